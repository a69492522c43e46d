/**
 * Pareto ranking beyond the front itself (which is the client's `paretoFront`): the fronts of a
 * non-dominated sort and crowding distances, used by NSGA-II's selection and Hyperband's
 * multi-objective promotions.
 */
import { dominates } from '@tuneserve/client';

/**
 * Fronts of a fast non-dominated sort: front 0 is not dominated by any point, front k only by
 * points of earlier fronts. Returns each point's front index.
 */
export function nonDominatedRanks(
  points: readonly number[][],
  objectives: readonly { direction: 'min' | 'max' }[],
): number[] {
  const n = points.length;
  const dominatedBy = new Array<number>(n).fill(0);
  const dominatesList: number[][] = Array.from({ length: n }, () => []);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const p = points[i] as number[];
      const q = points[j] as number[];
      if (dominates(p, q, objectives)) {
        dominatesList[i]?.push(j);
        dominatedBy[j] = (dominatedBy[j] as number) + 1;
      } else if (dominates(q, p, objectives)) {
        dominatesList[j]?.push(i);
        dominatedBy[i] = (dominatedBy[i] as number) + 1;
      }
    }
  }
  const ranks = new Array<number>(n).fill(-1);
  let current = dominatedBy.flatMap((c, i) => (c === 0 ? [i] : []));
  for (let rank = 0; current.length > 0; rank++) {
    const next: number[] = [];
    for (const i of current) {
      ranks[i] = rank;
      for (const j of dominatesList[i] as number[]) {
        dominatedBy[j] = (dominatedBy[j] as number) - 1;
        if (dominatedBy[j] === 0) next.push(j);
      }
    }
    current = next;
  }
  return ranks;
}

/**
 * Crowding distance of points of one front: per objective, the gap between each point's two
 * neighbours over the objective's range, summed; the extremes of each objective get Infinity.
 */
export function crowdingDistances(points: readonly number[][]): number[] {
  const n = points.length;
  const out = new Array<number>(n).fill(0);
  if (n === 0) return out;
  const m = (points[0] as number[]).length;
  for (let k = 0; k < m; k++) {
    const order = [...points.keys()].sort((a, b) => (points[a]?.[k] as number) - (points[b]?.[k] as number));
    const lo = points[order[0] as number]?.[k] as number;
    const hi = points[order[n - 1] as number]?.[k] as number;
    out[order[0] as number] = Number.POSITIVE_INFINITY;
    out[order[n - 1] as number] = Number.POSITIVE_INFINITY;
    if (hi === lo) continue;
    for (let r = 1; r < n - 1; r++) {
      const i = order[r] as number;
      const gap = (points[order[r + 1] as number]?.[k] as number) - (points[order[r - 1] as number]?.[k] as number);
      out[i] = (out[i] as number) + gap / (hi - lo);
    }
  }
  return out;
}
