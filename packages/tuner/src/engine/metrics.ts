/**
 * Metric aggregation over a trial's executions: the one implementation behind a trial's final
 * metrics, the pruners' intermediate values and the per-epoch curves of the study view.
 */
import { MultiObjective, type Objective } from '../objective.js';
import type { EpochMetric } from '../storage/types.js';

/** Per trial, per step: each metric averaged over the executions that reached that step (NaN kept). */
export function meanOverExecutions(rows: readonly EpochMetric[]): Map<string, Map<number, Record<string, number>>> {
  const sums = new Map<string, Map<number, Record<string, { sum: number; n: number }>>>();
  for (const r of rows) {
    let steps = sums.get(r.trialId);
    if (!steps) {
      steps = new Map();
      sums.set(r.trialId, steps);
    }
    let cells = steps.get(r.step);
    if (!cells) {
      cells = {};
      steps.set(r.step, cells);
    }
    const cell = cells[r.name] ?? { sum: 0, n: 0 };
    cell.sum += r.value;
    cell.n += 1;
    cells[r.name] = cell;
  }
  const out = new Map<string, Map<number, Record<string, number>>>();
  for (const [trialId, steps] of sums) {
    const bySteps = new Map<number, Record<string, number>>();
    for (const step of [...steps.keys()].sort((a, b) => a - b)) {
      const cells = steps.get(step) ?? {};
      bySteps.set(step, Object.fromEntries(Object.entries(cells).map(([name, c]) => [name, c.sum / c.n])));
    }
    out.set(trialId, bySteps);
  }
  return out;
}

export interface AggregatedMetrics {
  /** Each execution's best-epoch metrics, averaged over the executions. */
  metrics: Record<string, number>;
  /** The mean of the executions' best epochs (absent when no execution reported epochs). */
  bestStep?: number;
}

/**
 * A trial's final metrics from its executions (Keras Tuner's rule): the best epoch of each execution
 * by the objective, then the mean over executions. `custom` holds the result of executions that
 * returned metrics instead of per-epoch logs. An execution that hit NaN reports NaN for the
 * objective, so a diverged trial is never taken as the best.
 */
export function aggregateExecutions(
  rows: readonly EpochMetric[],
  objective: Objective,
  custom: Readonly<Record<string, Record<string, number>>> = {},
): AggregatedMetrics {
  const byExecution = new Map<number, Map<number, Record<string, number>>>();
  for (const r of rows) {
    let steps = byExecution.get(r.execution);
    if (!steps) {
      steps = new Map();
      byExecution.set(r.execution, steps);
    }
    const rec = steps.get(r.step) ?? {};
    rec[r.name] = r.value;
    steps.set(r.step, rec);
  }
  const perExecution: Record<string, number>[] = [];
  const bestSteps: number[] = [];
  const executions = new Set([...byExecution.keys(), ...Object.keys(custom).map(Number)]);
  for (const e of [...executions].sort((a, b) => a - b)) {
    const given = custom[String(e)];
    if (given) {
      perExecution.push(given);
      continue;
    }
    const steps = [...(byExecution.get(e) ?? new Map<number, Record<string, number>>()).entries()].sort(
      (a, b) => a[0] - b[0],
    );
    if (steps.length === 0) continue;
    let best = steps[steps.length - 1] as [number, Record<string, number>];
    for (const s of steps) {
      const v = objective.getValue(s[1]);
      const bv = objective.getValue(best[1]);
      if (v !== undefined && !Number.isNaN(v) && (bv === undefined || Number.isNaN(bv) || objective.better(v, bv)))
        best = s;
    }
    const diverged = steps.some((s) => Number.isNaN(objective.getValue(s[1]) ?? 0));
    perExecution.push(diverged ? { ...best[1], [objective.name]: Number.NaN } : best[1]);
    bestSteps.push(best[0]);
  }
  const metrics: Record<string, number> = {};
  const first = perExecution[0] ?? {};
  for (const name of Object.keys(first)) {
    const vals = perExecution.map((m) => m[name]).filter((v): v is number => typeof v === 'number');
    if (vals.length === perExecution.length) metrics[name] = mean(vals);
  }
  if (perExecution.length > 0 && objective.getValue(metrics) === undefined) {
    const vals = perExecution.map((m) => objective.getValue(m)).filter((v): v is number => v !== undefined);
    if (vals.length === perExecution.length) metrics[objective.name] = mean(vals);
  }
  // The spread over executions (cross-validation folds): numpy's std (population), as a CV report shows.
  for (const o of objective instanceof MultiObjective ? objective.objectives : [objective]) {
    const vals = perExecution.map((m) => o.getValue(m)).filter((v): v is number => v !== undefined);
    if (vals.length > 1 && vals.length === perExecution.length) metrics[stdName(o.name)] = std(vals);
  }
  return bestSteps.length ? { metrics, bestStep: Math.floor(mean(bestSteps)) } : { metrics };
}

/** Per trial, the objective at each step averaged over the executions that reached it (for pruners). */
export function intermediateValues(
  rows: readonly EpochMetric[],
  objective: Objective,
): Map<string, Map<number, number>> {
  const out = new Map<string, Map<number, number>>();
  for (const [trialId, steps] of meanOverExecutions(rows)) {
    const values = new Map<number, number>();
    for (const [step, rec] of steps) {
      const v = objective.getValue(rec);
      if (v !== undefined) values.set(step, v);
    }
    if (values.size > 0) out.set(trialId, values);
  }
  return out;
}

/** The metric holding an objective's spread over a trial's executions, e.g. val_accuracy_std. */
export function stdName(objective: string): string {
  return `${objective}_std`;
}

function std(values: number[]): number {
  const m = mean(values);
  return Math.sqrt(mean(values.map((v) => (v - m) ** 2)));
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}
