/** The GP's hand-written linear algebra: Cholesky factor and SPD inverse. */
import { describe, expect, it } from 'vitest';
import { cholesky, inverseFromCholesky } from '../src/gp/linalg.js';

/** A random symmetric positive-definite n x n matrix: B B^T + n I, from a fixed LCG. */
function spd(n: number, seed: number): Float64Array {
  let state = seed;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32 - 0.5;
  };
  const b = Array.from({ length: n * n }, next);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = i === j ? n : 0;
      for (let k = 0; k < n; k++) s += (b[i * n + k] as number) * (b[j * n + k] as number);
      a[i * n + j] = s;
    }
  }
  return a;
}

function multiply(a: Float64Array, b: Float64Array, n: number, transposeB = false): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += (a[i * n + k] as number) * (b[transposeB ? j * n + k : k * n + j] as number);
      out[i * n + j] = s;
    }
  }
  return out;
}

const maxAbsDiff = (a: Float64Array, b: ArrayLike<number>) =>
  Math.max(...Array.from(a, (v, i) => Math.abs(v - (b[i] as number))));
const identity = (n: number) => Float64Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 : 0));

describe('cholesky', () => {
  it('matches a factor computed by hand', () => {
    // A = [[4, 12, -16], [12, 37, -43], [-16, -43, 98]] = L L^T with L = [[2,0,0],[6,1,0],[-8,5,3]].
    const l = cholesky(Float64Array.from([4, 12, -16, 12, 37, -43, -16, -43, 98]), 3);
    expect(Array.from(l ?? [])).toEqual([2, 0, 0, 6, 1, 0, -8, 5, 3]);
  });

  it('is lower triangular and reconstructs A = L L^T for a 25 x 25 kernel', () => {
    const n = 25;
    const a = spd(n, 42);
    const l = cholesky(a, n) as Float64Array;
    expect(l).toBeDefined();
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) expect(l[i * n + j]).toBe(0);
    expect(maxAbsDiff(multiply(l, l, n, true), a)).toBeLessThan(1e-10);
  });

  it('returns undefined for matrices that are not positive definite', () => {
    expect(cholesky(Float64Array.from([1, 2, 2, 1]), 2)).toBeUndefined(); // eigenvalues 3 and -1
    expect(cholesky(Float64Array.from([0]), 1)).toBeUndefined();
    expect(cholesky(Float64Array.from([1, 1, 1, 1]), 2)).toBeUndefined(); // singular
    expect(cholesky(Float64Array.from([Number.NaN]), 1)).toBeUndefined();
  });
});

describe('inverseFromCholesky', () => {
  it('inverts a 2 x 2 matrix exactly', () => {
    const a = Float64Array.from([4, 2, 2, 3]); // inverse = [[3, -2], [-2, 4]] / 8
    const inv = inverseFromCholesky(cholesky(a, 2) as Float64Array, 2);
    expect(maxAbsDiff(inv, [0.375, -0.25, -0.25, 0.5])).toBeLessThan(1e-15);
  });

  it('gives a symmetric A^-1 with A A^-1 = I for kernels of several sizes', () => {
    for (const n of [1, 5, 40]) {
      const a = spd(n, n);
      const inv = inverseFromCholesky(cholesky(a, n) as Float64Array, n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) expect(inv[i * n + j]).toBe(inv[j * n + i]);
      expect(maxAbsDiff(multiply(a, inv, n), identity(n))).toBeLessThan(1e-10);
    }
  });
});
