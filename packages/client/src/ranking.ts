/**
 * Trial ranking, the one implementation shared by the tuner, the CLI and the dashboard (pure, no
 * dependencies, so the browser bundle can use it).
 */

/** What ranking needs of a trial: the tuner's Trial, a StudyJson trial and the CLI's view all fit. */
export interface RankableTrial {
  status: string;
  score: number | null;
}

/**
 * The COMPLETED trials with a finite score, best first for the objective's direction. Trials with
 * equal scores keep their order (the earlier trial wins, as in Keras Tuner and Optuna).
 */
export function rankTrials<T extends RankableTrial>(trials: readonly T[], direction: 'min' | 'max'): T[] {
  const sign = direction === 'min' ? 1 : -1;
  return trials
    .filter((t) => t.status === 'COMPLETED' && t.score !== null && Number.isFinite(t.score))
    .sort((a, b) => sign * ((a.score as number) - (b.score as number)));
}

/** What Pareto ranking needs of a trial: its value of each objective (see TrialJson.values). */
export interface ParetoTrial extends RankableTrial {
  values?: readonly number[] | null;
}

/**
 * True when `a` Pareto-dominates `b`: at least as good on every objective and strictly better on
 * one. Each value is compared in its own objective's direction.
 */
export function dominates(
  a: readonly number[],
  b: readonly number[],
  objectives: readonly { direction: 'min' | 'max' }[],
): boolean {
  let strictly = false;
  for (let i = 0; i < objectives.length; i++) {
    const sign = objectives[i]?.direction === 'max' ? -1 : 1;
    const d = sign * ((a[i] as number) - (b[i] as number));
    if (d > 0) return false;
    if (d < 0) strictly = true;
  }
  return strictly;
}

/**
 * The Pareto front: the COMPLETED trials with a finite value for every objective that no other such
 * trial dominates, sorted by the first objective (best first; ties keep trial order). Trials with
 * identical values are all kept.
 */
export function paretoFront<T extends ParetoTrial>(
  trials: readonly T[],
  objectives: readonly { direction: 'min' | 'max' }[],
): T[] {
  const scored = trials.filter(
    (t) =>
      t.status === 'COMPLETED' &&
      Array.isArray(t.values) &&
      t.values.length === objectives.length &&
      t.values.every((v) => Number.isFinite(v)),
  );
  const front = scored.filter(
    (t) => !scored.some((o) => o !== t && dominates(o.values as number[], t.values as number[], objectives)),
  );
  const sign = objectives[0]?.direction === 'max' ? -1 : 1;
  return front.sort(
    (a, b) => sign * ((a.values as number[])[0] as number) - sign * ((b.values as number[])[0] as number),
  );
}
