/** Trial states and the trial record every oracle, tuner and viewer shares. */
import type { HpValue, HyperParameters } from './hyperparameters/index.js';

/**
 * RUNNING: being trained. IDLE: the oracle has nothing to hand out yet, ask again.
 * STOPPED: the search is over. COMPLETED: done with a score. PRUNED: stopped early by a pruner,
 * partial results kept. INVALID: crashed, may be retried. FAILED: crashed for good.
 */
export type TrialStatus = 'RUNNING' | 'IDLE' | 'STOPPED' | 'COMPLETED' | 'PRUNED' | 'INVALID' | 'FAILED';

export const FINISHED_STATUSES: readonly TrialStatus[] = ['COMPLETED', 'PRUNED', 'FAILED'];

export interface Trial {
  trialId: string;
  hyperparameters: HyperParameters;
  status: TrialStatus;
  /**
   * The objective's value of the final (best-epoch, execution-averaged) metrics; in a
   * multi-objective study, the first objective's value.
   */
  score: number | null;
  /** Multi-objective studies: each objective's value (objective order), null when one is missing. */
  values?: number[] | null;
  /** The epoch the score was taken at (mean of the executions' best epochs). */
  bestStep: number | null;
  /** Final metrics: each execution's best-epoch metrics, averaged. */
  metrics: Record<string, number>;
  message: string | null;
  ownerId: string | null;
  heartbeatAt: number | null;
  startedAt: number | null;
  endedAt: number | null;
  /** How many times this trial was retried after an error. */
  retries: number;
  /** Free-form data of the oracle or pruner (e.g. successive-halving rungs). */
  userData: Record<string, unknown>;
}

/**
 * What runTrial may return: the objective as a number (in a multi-objective study, one number per
 * objective, in order), or a metrics record that contains it.
 */
export type TrialResult =
  | number
  | number[]
  | Record<string, number>
  | { metrics: Record<string, number>; bestStep?: number };

export type HpValues = Record<string, HpValue>;
