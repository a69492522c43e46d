/** Standard black-box test functions (minimized), with their known global minima. */

export interface Problem {
  name: string;
  /** Box bounds per dimension. */
  bounds: [number, number][];
  minimum: number;
  evaluate(x: readonly number[]): number;
}

const { PI, cos, exp } = Math;

/** Branin-Hoo on [-5, 10] x [0, 15]; three global minima of 0.397887. */
export const branin: Problem = {
  name: 'branin',
  bounds: [
    [-5, 10],
    [0, 15],
  ],
  minimum: 0.397887357729739,
  evaluate([x1 = 0, x2 = 0]) {
    const b = 5.1 / (4 * PI * PI);
    const c = 5 / PI;
    const t = 1 / (8 * PI);
    return (x2 - b * x1 * x1 + c * x1 - 6) ** 2 + 10 * (1 - t) * cos(x1) + 10;
  },
};

const H6_ALPHA = [1.0, 1.2, 3.0, 3.2];
const H6_A = [
  [10, 3, 17, 3.5, 1.7, 8],
  [0.05, 10, 17, 0.1, 8, 14],
  [3, 3.5, 1.7, 10, 17, 8],
  [17, 8, 0.05, 10, 0.1, 14],
];
const H6_P = [
  [1312, 1696, 5569, 124, 8283, 5886],
  [2329, 4135, 8307, 3736, 1004, 9991],
  [2348, 1451, 3522, 2883, 3047, 6650],
  [4047, 8828, 8732, 5743, 1091, 381],
].map((row) => row.map((v) => v * 1e-4));

/** Hartmann-6 on [0, 1]^6; global minimum -3.32237. */
export const hartmann6: Problem = {
  name: 'hartmann6',
  bounds: Array.from({ length: 6 }, () => [0, 1] as [number, number]),
  minimum: -3.322368011391339,
  evaluate(x) {
    let sum = 0;
    for (let i = 0; i < 4; i++) {
      let inner = 0;
      for (let j = 0; j < 6; j++)
        inner += (H6_A[i]?.[j] as number) * ((x[j] as number) - (H6_P[i]?.[j] as number)) ** 2;
      sum += (H6_ALPHA[i] as number) * exp(-inner);
    }
    return -sum;
  },
};

export const problems: Record<string, Problem> = { branin, hartmann6 };
