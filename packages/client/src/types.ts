/**
 * Wire types of the tuneserve HTTP API as a client sees them. They mirror the server's JSON and
 * are declared here so programs using the client need neither the server nor TF.js.
 */

import type { InputSchema, OutputSchema } from './schema.js';

export type HpValue = number | string | boolean;

export interface Sample {
  index: number;
  label: number;
  instances: number[];
}

export interface ModelMetadataJson {
  name: string;
  version: number;
  createdAt: string;
  inputShape: number[];
  labels: string[];
  /** How raw inputs become the model's tensor (absent in models exported before schemas: a plain tensor). */
  input?: InputSchema;
  /** What the output means: class names or a de-standardised regression target. */
  output?: OutputSchema;
  hyperparameters?: Record<string, HpValue>;
  training?: Record<string, unknown>;
  testMetrics?: {
    loss: number;
    accuracy: number;
    confusionMatrix?: number[][];
    perClass?: { label: string; precision: number; recall: number }[];
  };
  backend?: string;
  tuneserveVersion: string;
  [key: string]: unknown;
}

/** GET /api/model */
export interface ServedModel {
  name: string;
  version: number;
  versions: number[];
  metadata: ModelMetadataJson;
}

export interface MetricPoint {
  step: number;
  value: number;
}

export interface TrialJson {
  trialId: string;
  status: string;
  hyperparameters: Record<string, HpValue>;
  score: number | null;
  bestStep: number | null;
  startedAt: string | null;
  endedAt: string | null;
  durationMs: number | null;
  metrics: Record<string, MetricPoint[]>;
  message?: string;
}

/** GET /api/study */
export interface StudyJson {
  name: string;
  tuner: string;
  objective: { name: string; direction: 'min' | 'max' };
  maxTrials: number | null;
  trials: TrialJson[];
}

/** GET /v1/models/{name} (TF Serving model status). */
export interface ModelStatus {
  model_version_status: { version: string; state: string; status: { error_code: string; error_message: string } }[];
}

/** One classification, derived from a probability vector. */
export interface Classification {
  label: number;
  confidence: number;
  probabilities: number[];
}
