/**
 * Read-only data the server can expose besides the model, injected by whoever starts it (the
 * CLI). The server knows nothing of tuning or of MNIST: it only sees these small interfaces.
 */

export type HpValue = number | string | boolean;

/** One point of a per-epoch metric curve. */
export interface MetricPoint {
  step: number;
  value: number;
}

/** A trial as the dashboard sees it (GET /api/study). */
export interface TrialJson {
  trialId: string;
  status: string; // RUNNING | COMPLETED | PRUNED | FAILED | INVALID | ...
  hyperparameters: Record<string, HpValue>;
  score: number | null;
  bestStep: number | null;
  startedAt: string | null;
  endedAt: string | null;
  durationMs: number | null;
  /** Per-epoch metric curves of the trial (e.g. loss, val_loss, acc, val_acc), averaged over executions. */
  metrics: Record<string, MetricPoint[]>;
  message?: string;
}

/** The study as the dashboard sees it. */
export interface StudyJson {
  name: string;
  tuner: string;
  objective: { name: string; direction: 'min' | 'max' };
  maxTrials: number | null;
  trials: TrialJson[];
}

export interface StudySource {
  /** The current state of the study, or undefined when none exists yet. */
  getStudy(): Promise<StudyJson | undefined>;
}

/** A labelled example from a data set (GET /api/samples/random, /api/samples/:index). */
export interface Sample {
  index: number;
  label: number;
  /** Flat input values, e.g. 784 floats in [0,1] for MNIST. */
  instances: number[];
}

export interface SampleSource {
  readonly size: number;
  sample(index: number): Sample;
}
