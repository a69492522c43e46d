/** Pure helpers over the study JSON: which trials count, the best one, the running best. */
import { type HpValue, rankTrials, type StudyJson, type TrialJson } from '@tuneserve/client';

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
  const names = new Set<string>();
  for (const t of study.trials) for (const k of Object.keys(t.hyperparameters)) names.add(k);
  return [...names].sort();
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
