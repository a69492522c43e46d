/**
 * What the study views draw, computed once for the dashboard and report.html (pure, no dependencies, so the
 * browser bundle can use it): the hyperparameter columns, parallel coordinates, and every trial's curves.
 */
import type { HpValue, StudyJson, TrialJson } from './types.js';

/** What the views read of a trial: the wire trial and the report's fit. */
export type ViewTrial = Pick<TrialJson, 'trialId' | 'status' | 'hyperparameters' | 'score' | 'values' | 'metrics'>;

/** Every hyperparameter any of the trials used, sorted. */
export function hyperparameterNames(trials: readonly Pick<TrialJson, 'hyperparameters'>[]): string[] {
  const names = new Set<string>();
  for (const t of trials) for (const k of Object.keys(t.hyperparameters)) names.add(k);
  return [...names].sort();
}

export interface ParallelAxis {
  name: string;
  /** Categories in axis order (strings, booleans, and '–' for a conditional value a trial did not use). */
  categories?: string[];
  /** Positive numbers spanning two decades or more: a log axis. */
  log?: boolean;
  /** Whole numbers only: ticks on integers. */
  integer?: boolean;
}

/**
 * Parallel coordinates: one axis per hyperparameter then one per objective, one line per scored trial
 * (its value on each axis, `null` where a numeric hyperparameter was not used).
 */
export function parallelCoordinates(
  study: Pick<StudyJson, 'objective' | 'objectives'>,
  trials: readonly ViewTrial[],
): {
  axes: ParallelAxis[];
  /** Index of the axis lines are coloured by: the (first) objective's. */
  colourAxis: number;
  lines: { trialId: string; values: (number | string | null)[]; score: number }[];
} {
  const withScore = trials.filter((t) => t.score !== null && Number.isFinite(t.score));
  const names = hyperparameterNames(withScore);
  const axes: ParallelAxis[] = names.map((name) => {
    const values = withScore.map((t) => t.hyperparameters[name]).filter((v) => v !== undefined);
    if (values.every((v) => typeof v === 'number')) {
      const nums = values as number[];
      const log = nums.length > 1 && nums.every((v) => v > 0) && Math.max(...nums) / Math.min(...nums) >= 100;
      if (log) return { name, log };
      return nums.every(Number.isInteger) ? { name, integer: true } : { name };
    }
    const cats = [...new Set(withScore.map((t) => categoryOf(t.hyperparameters[name])))].sort();
    return { name, categories: cats };
  });
  const colourAxis = axes.length;
  const objectives = study.objectives ?? [study.objective];
  axes.push(...objectives.map((o) => ({ name: o.name })));
  const lines = withScore.map((t) => ({
    trialId: t.trialId,
    values: [
      ...axes.slice(0, colourAxis).map((axis) => {
        const v = t.hyperparameters[axis.name];
        if (axis.categories) return categoryOf(v);
        return typeof v === 'number' ? v : null;
      }),
      ...(study.objectives ? objectives.map((_, i) => t.values?.[i] ?? null) : [t.score!]),
    ],
    score: t.score!,
  }));
  return { axes, colourAxis, lines };
}

const categoryOf = (v: HpValue | undefined): string => (v === undefined ? '–' : String(v));

/** Which per-epoch metric the all-trials curves show by default: the objective when trials report it per epoch. */
export function curveMetrics(trials: readonly Pick<TrialJson, 'metrics'>[], objective: string): string[] {
  const names = [...new Set(trials.flatMap((t) => Object.keys(t.metrics)))].sort();
  return names.includes(objective) ? [objective, ...names.filter((n) => n !== objective)] : names;
}

/** One metric's curve per trial (intermediate values), pruned trials flagged so the chart can mark them. */
export function trialCurves(
  trials: readonly ViewTrial[],
  metric: string,
): { trialId: string; pruned: boolean; points: { step: number; value: number }[] }[] {
  return trials
    .filter((t) => (t.metrics[metric]?.length ?? 0) > 0)
    .map((t) => ({ trialId: t.trialId, pruned: t.status === 'PRUNED', points: t.metrics[metric]! }));
}
