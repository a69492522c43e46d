/**
 * Pruners (Optuna's rules, which Keras Tuner lacks): after each epoch the tuner asks whether the
 * trial's intermediate objective is bad enough to stop it. A pruned trial ends as PRUNED and keeps
 * its partial results. Decisions read every trial from storage, so they hold across processes.
 */
import type { Direction } from './objective.js';
import type { Trial } from './trial.js';

export interface PrunerContext {
  /** The trial being trained; a pruner may keep its own bookkeeping in `trial.userData`. */
  trial: Trial;
  /** The epoch (0-based) that just finished. */
  step: number;
  /** Every trial of the study. */
  trials: Trial[];
  direction: Direction;
  /** A trial's objective per step, averaged over executions. */
  intermediate(trialId: string): Map<number, number>;
}

export interface Pruner {
  shouldPrune(ctx: PrunerContext): boolean | Promise<boolean>;
}

function positiveInt(name: string, v: number, min = 0): number {
  if (!Number.isInteger(v) || v < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${v}.`);
  return v;
}

export interface MedianPrunerOptions {
  /** No pruning until this many trials have COMPLETED (default 5). */
  nStartupTrials?: number;
  /** No pruning before this step (default 0). */
  nWarmupSteps?: number;
  /** Check every this many steps after the warm-up (default 1). */
  intervalSteps?: number;
  /** At least this many completed trials must have a value at the step (default 1). */
  nMinTrials?: number;
}

/** Prunes when the trial's best value so far is worse than the median of completed trials at this step. */
export class MedianPruner implements Pruner {
  readonly nStartupTrials: number;
  readonly nWarmupSteps: number;
  readonly intervalSteps: number;
  readonly nMinTrials: number;

  constructor(options: MedianPrunerOptions = {}) {
    this.nStartupTrials = positiveInt('nStartupTrials', options.nStartupTrials ?? 5);
    this.nWarmupSteps = positiveInt('nWarmupSteps', options.nWarmupSteps ?? 0);
    this.intervalSteps = positiveInt('intervalSteps', options.intervalSteps ?? 1, 1);
    this.nMinTrials = positiveInt('nMinTrials', options.nMinTrials ?? 1, 1);
  }

  shouldPrune(ctx: PrunerContext): boolean {
    const { step, direction } = ctx;
    const completed = ctx.trials.filter((t) => t.status === 'COMPLETED');
    if (completed.length < this.nStartupTrials) return false;
    if (step < this.nWarmupSteps) return false;
    if ((step - this.nWarmupSteps) % this.intervalSteps !== 0) return false;
    const own = [...ctx.intermediate(ctx.trial.trialId).entries()].filter(([s]) => s <= step).map(([, v]) => v);
    const finite = own.filter((v) => !Number.isNaN(v));
    if (own.length > 0 && finite.length === 0) return true;
    if (finite.length === 0) return false;
    const best = direction === 'min' ? Math.min(...finite) : Math.max(...finite);
    const others = completed
      .map((t) => ctx.intermediate(t.trialId).get(step))
      .filter((v): v is number => v !== undefined && !Number.isNaN(v));
    if (others.length < this.nMinTrials) return false;
    const m = median(others);
    return direction === 'min' ? best > m : best < m;
  }
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export interface SuccessiveHalvingPrunerOptions {
  /** Epochs before the first rung (default 1). */
  minResource?: number;
  /** Keep the best 1/reductionFactor at each rung (default 4). */
  reductionFactor?: number;
  /** Shifts the rungs: the first rung is at minResource * factor^rate (default 0). */
  minEarlyStoppingRate?: number;
}

/**
 * Asynchronous successive halving (ASHA). Rung r is reached after
 * minResource * factor^(minEarlyStoppingRate + r) epochs; there a trial continues only if its value
 * is among the top 1/factor of all values recorded at that rung so far. Rung values live in the
 * trial's userData (`ashaRungs`), so every process sees them.
 */
export class SuccessiveHalvingPruner implements Pruner {
  readonly minResource: number;
  readonly reductionFactor: number;
  readonly minEarlyStoppingRate: number;

  constructor(options: SuccessiveHalvingPrunerOptions = {}) {
    this.minResource = positiveInt('minResource', options.minResource ?? 1, 1);
    this.reductionFactor = positiveInt('reductionFactor', options.reductionFactor ?? 4, 2);
    this.minEarlyStoppingRate = positiveInt('minEarlyStoppingRate', options.minEarlyStoppingRate ?? 0);
  }

  shouldPrune(ctx: PrunerContext): boolean {
    const { trial, step, direction } = ctx;
    const value = ctx.intermediate(trial.trialId).get(step);
    if (value === undefined) return false;
    const resource = step + 1; // epochs trained so far
    const rungs = (trial.userData.ashaRungs as Record<string, number> | undefined) ?? {};
    let rung = Object.keys(rungs).length;
    for (;;) {
      const promotionStep = this.minResource * this.reductionFactor ** (this.minEarlyStoppingRate + rung);
      if (resource < promotionStep) break;
      if (Number.isNaN(value)) return true;
      const key = String(rung);
      const competing = ctx.trials
        .filter((t) => t.trialId !== trial.trialId)
        .map((t) => (t.userData.ashaRungs as Record<string, number> | undefined)?.[key])
        .filter((v): v is number => typeof v === 'number');
      rungs[key] = value;
      trial.userData.ashaRungs = rungs;
      competing.push(value);
      let promotable = Math.floor(competing.length / this.reductionFactor) - 1;
      if (promotable < 0) promotable = 0;
      const sorted = competing.sort((a, b) => (direction === 'min' ? a - b : b - a));
      const threshold = sorted[promotable] as number;
      const ok = direction === 'min' ? value <= threshold : value >= threshold;
      if (!ok) return true;
      rung += 1;
    }
    return false;
  }
}
