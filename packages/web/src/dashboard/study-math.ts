/** Pure helpers over the study JSON: which trials count, the best one, the running best. */
import {
  type HpValue,
  hyperparameterNames as hpNames,
  paretoFront,
  rankTrials,
  type StudyJson,
  type TrialJson,
} from '@tuneserve/client';

export { curveMetrics, type ParallelAxis, parallelCoordinates, trialCurves } from '@tuneserve/client';

export function scored(study: StudyJson): TrialJson[] {
  return study.trials.filter((t) => t.score !== null && Number.isFinite(t.score));
}

/** The best completed trial (the tuner's own ranking). */
export function bestTrial(study: StudyJson): TrialJson | undefined {
  return rankTrials(study.trials, study.objective.direction)[0];
}

/** The best score seen up to each scored trial, in order. */
export function runningBest(scores: number[], direction: 'min' | 'max'): number[] {
  const out: number[] = [];
  for (const s of scores) {
    const prev = out[out.length - 1];
    out.push(prev === undefined ? s : direction === 'max' ? Math.max(prev, s) : Math.min(prev, s));
  }
  return out;
}

export function hyperparameterNames(study: StudyJson): string[] {
  return hpNames(study.trials);
}

/** Points of one hyperparameter against the score; non-numeric values become categories. */
export function hpPoints(
  study: StudyJson,
  name: string,
): { points: { x: number; y: number }[]; categories?: string[] } {
  const trials = scored(study).filter((t) => t.hyperparameters[name] !== undefined);
  const values = trials.map((t) => t.hyperparameters[name] as HpValue);
  if (values.every((v) => typeof v === 'number')) {
    return { points: trials.map((t, i) => ({ x: values[i] as number, y: t.score! })) };
  }
  const categories = [...new Set(values.map(String))].sort();
  return { points: trials.map((t, i) => ({ x: categories.indexOf(String(values[i])), y: t.score! })), categories };
}

export function formatValue(value: HpValue | null | undefined): string {
  if (value === null || value === undefined) return '–';
  if (typeof value === 'number') {
    if (Number.isInteger(value)) return String(value);
    return Math.abs(value) < 1e-3 || Math.abs(value) >= 1e5
      ? value.toExponential(2)
      : String(Number(value.toPrecision(4)));
  }
  return String(value);
}

export function formatDuration(ms: number | null): string {
  if (ms === null) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  return s < 120 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

/**
 * The trials the views show: all of them, or (k > 0) the k best — the Pareto front first for a
 * multi-objective study, then by the primary score.
 */
export function topTrials(study: StudyJson, k: number): TrialJson[] {
  if (!(k > 0)) return study.trials;
  const ranked = rankTrials(study.trials, study.objective.direction);
  const front = study.objectives ? paretoFront(study.trials, study.objectives) : [];
  const order = [...front, ...ranked.filter((t) => !front.includes(t))];
  return order.slice(0, k);
}

/** Trial ids on the Pareto front (empty for single-objective studies). */
export function frontIds(study: StudyJson): Set<string> {
  return new Set(study.objectives ? paretoFront(study.trials, study.objectives).map((t) => t.trialId) : []);
}

/** The score's spread over cross-validation folds (or executions), when the trial has one (`scoreStd`). */
export function scoreSpread(trial: TrialJson): number | undefined {
  const v = trial.scoreStd;
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** One objective's importance as sorted [name, share] pairs (largest first); empty when there is none yet. */
export interface ImportanceSet {
  objective: { name: string; direction: 'min' | 'max' };
  bars: [string, number][];
}

/** Each objective's importance in the study's objective order (a single-objective study: one set). */
export function importanceSets(study: StudyJson): ImportanceSet[] {
  const objectives = study.objectives ?? [study.objective];
  const byObjective = study.importanceByObjective ?? { [study.objective.name]: study.importance ?? {} };
  return objectives.map((objective) => ({
    objective,
    bars: Object.entries(byObjective[objective.name] ?? {}).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])),
  }));
}

/** What the importance panel says beside its bars: being computed (over how many trials) or why it failed. */
export function importanceNote(study: StudyJson): string {
  const status = study.importanceStatus;
  if (!status || status.state === 'ready') return '';
  const shown = status.completedTrials ? ` (showing the last one, of ${status.completedTrials} completed trials)` : '';
  if (status.state === 'computing') return `Computing the importance of the latest trials…${shown}`;
  return `Importance could not be computed: ${status.error ?? 'unknown error'}${shown}`;
}

/** Points of two objectives for the Pareto view: every completed trial with values, and whether it is on the front. */
export function paretoPoints(
  study: StudyJson,
  xi: number,
  yi: number,
): { trialId: string; x: number; y: number; front: boolean }[] {
  const front = frontIds(study);
  return study.trials
    .filter((t) => t.status === 'COMPLETED' && Array.isArray(t.values))
    .map((t) => ({ trialId: t.trialId, x: t.values![xi]!, y: t.values![yi]!, front: front.has(t.trialId) }))
    .filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
}
