/**
 * Standard 2-objective test problems (both objectives minimised) for the multi-objective section.
 * bench/tuner/optuna-pareto.py defines the same functions for Optuna's samplers.
 */

export interface ParetoProblem {
  name: string;
  /** Variables, each in [0, 1]. */
  dims: number;
  /** Hypervolume reference point (worse than the interesting part of the front). */
  reference: [number, number];
  evaluate(x: readonly number[]): [number, number];
}

/** ZDT1 (Zitzler, Deb, Thiele 2000): convex front f2 = 1 - sqrt(f1) where x2..xn = 0. */
export const zdt1: ParetoProblem = {
  name: 'zdt1',
  dims: 6,
  reference: [1.1, 11],
  evaluate(x) {
    const f1 = x[0] as number;
    const rest = x.slice(1).reduce((a, b) => a + b, 0);
    const g = 1 + (9 * rest) / (x.length - 1);
    return [f1, g * (1 - Math.sqrt(f1 / g))];
  },
};

/** DTLZ2 with two objectives (Deb et al. 2002): the front is the quarter circle f1^2 + f2^2 = 1 where x2..xn = 0.5. */
export const dtlz2: ParetoProblem = {
  name: 'dtlz2',
  dims: 6,
  reference: [1.1, 1.1],
  evaluate(x) {
    const g = x.slice(1).reduce((a, v) => a + (v - 0.5) ** 2, 0);
    const angle = ((x[0] as number) * Math.PI) / 2;
    return [(1 + g) * Math.cos(angle), (1 + g) * Math.sin(angle)];
  },
};

export const paretoProblems: Record<string, ParetoProblem> = { zdt1, dtlz2 };
