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

/**
 * The hypervolume of a set of points: the measure of the objective space they dominate up to
 * `reference` (a point worse than every point of interest on every objective). Larger is better;
 * points not strictly better than the reference on every objective add nothing. Exact, by slicing
 * along the last objective (fine for the few objectives and hundreds of points of a study).
 */
export function hypervolume(
  points: readonly (readonly number[])[],
  reference: readonly number[],
  objectives: readonly { direction: 'min' | 'max' }[],
): number {
  // Minimisation frame, relative to the reference: every kept coordinate is < 0.
  const signs = objectives.map((o) => (o.direction === 'max' ? -1 : 1));
  const rel = points
    .map((p) => p.map((v, i) => (signs[i] as number) * (v - (reference[i] as number))))
    .filter((p) => p.length === signs.length && p.every((v) => v < 0));
  return sliceVolume(rel, signs.length);
}

/** Volume dominated by points (all coordinates < 0) within the box up to the origin, in the first `m` dimensions. */
function sliceVolume(points: number[][], m: number): number {
  if (points.length === 0) return 0;
  if (m === 1) return -Math.min(...points.map((p) => p[0] as number));
  const sorted = [...points].sort((a, b) => (a[m - 1] as number) - (b[m - 1] as number));
  let volume = 0;
  for (let i = 0; i < sorted.length; i++) {
    const lo = sorted[i]?.[m - 1] as number;
    const hi = i + 1 < sorted.length ? (sorted[i + 1]?.[m - 1] as number) : 0;
    if (hi > lo) volume += (hi - lo) * sliceVolume(sorted.slice(0, i + 1), m - 1);
  }
  return volume;
}
