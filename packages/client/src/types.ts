/**
 * Wire types of the tuneserve HTTP API as a client sees them. They mirror the server's JSON and
 * are declared here so programs using the client need neither the server nor TF.js.
 */

import type { InputSchema, OutputSchema } from './schema.js';

export type HpValue = number | string | boolean;

/** A test example of the data a model was trained on (GET /api/models/{name}/samples/…, /api/samples/…). */
export interface Sample {
  index: number;
  /** The true class index (-1 for a regression example). */
  label: number;
  /** The model's input values (encoded as in training). */
  instances: number[];
  /** Tabular data: the example as named raw values, as a person would type them. */
  features?: Record<string, number | string>;
  /** The true answer by name: the class name, or the regression target's value. */
  truth?: string | number;
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
  /** Classification: accuracy, confusion matrix, per-class metrics. Regression: mae, rmse, r2 (target units). */
  testMetrics?: {
    loss: number;
    accuracy?: number;
    confusionMatrix?: number[][];
    perClass?: { label: string; precision: number; recall: number; f1?: number; support?: number }[];
    mae?: number;
    rmse?: number;
    r2?: number;
    [key: string]: unknown;
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
  /** The score's standard deviation over the trial's executions (cross-validation folds); absent with one execution. */
  scoreStd?: number | null;
  bestStep: number | null;
  startedAt: string | null;
  endedAt: string | null;
  durationMs: number | null;
  metrics: Record<string, MetricPoint[]>;
  /** Final metrics (best epoch, mean over executions), e.g. `latency_ms` or `<objective>_std`. */
  finalMetrics?: Record<string, number>;
  message?: string;
  /**
   * Multi-objective studies: the trial's value of each objective, in `StudyJson.objectives` order
   * (raw, each in its own direction); null when one is missing. `score` is the first of them.
   */
  values?: number[] | null;
}

/** GET /api/study */
export interface StudyJson {
  name: string;
  tuner: string;
  /** The objective trials are ranked by; in a multi-objective study, the first (primary) one. */
  objective: { name: string; direction: 'min' | 'max' };
  /** Present when the study searches for a Pareto front over 2+ objectives (trials carry `values`). */
  objectives?: { name: string; direction: 'min' | 'max' }[];
  maxTrials: number | null;
  trials: TrialJson[];
  /** Each hyperparameter's share of the (first) objective's variance (fANOVA on a random forest), largest first. */
  importance?: Record<string, number>;
  /** Each objective's importance by objective name, in the study's objective order (`importance` is the first's). */
  importanceByObjective?: Record<string, Record<string, number>>;
  /** Whether the importance shown covers the study's current completed trials (servers compute it in the background). */
  importanceStatus?: ImportanceStatus;
}

export interface ImportanceStatus {
  /**
   * ready: computed over the current completed trials; computing: being computed for them, the shares shown (if
   * any) are of an earlier set of trials; failed: computing it for them failed (`error` says why).
   */
  state: 'ready' | 'computing' | 'failed';
  /** How many completed trials the shares shown were computed over (0: none yet). */
  completedTrials: number;
  error?: string;
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

/** One entry of GET /api/models (the model picker). */
export interface ModelSummary {
  name: string;
  ready: boolean;
  version: number | null;
  versions: number[];
  input: InputSchema | null;
  output: OutputSchema | null;
  metadata: ModelMetadataJson | null;
}

/** GET /api/models */
export interface ModelList {
  /** The model of /predict and /api/model. */
  default: string | null;
  models: ModelSummary[];
}

export interface ScoredLabel {
  label: string;
  score: number;
}

/** One example's answer: the best class with its score and the top k, or a regression value. */
export type LabelledPrediction = { label: string; score: number; top_k: ScoredLabel[] } | { value: number };

/** POST /api/models/{name}/predict */
export interface LabelledAnswer {
  model: string;
  version: number;
  task: 'classification' | 'regression';
  predictions: LabelledPrediction[];
}

/** A KServe v2 (Open Inference Protocol) tensor in JSON. */
export interface V2Tensor {
  name: string;
  datatype: string;
  shape: number[];
  data: (number | string | boolean)[];
  parameters?: Record<string, unknown>;
}

/** POST /v2/models/{name}[/versions/{v}]/infer */
export interface V2InferRequest {
  id?: string;
  parameters?: Record<string, unknown>;
  inputs: V2Tensor[];
  outputs?: { name: string }[];
}

export interface V2InferResponse {
  model_name: string;
  model_version?: string;
  id?: string;
  outputs: V2Tensor[];
}

/** One row of POST /v2/repository/index. */
export interface RepositoryEntry {
  name: string;
  version?: string;
  state: string;
  reason: string;
}
