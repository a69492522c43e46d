/**
 * Dense symmetric positive-definite algebra on row-major Float64Arrays, written by hand: the GP's
 * likelihood optimizer needs hundreds of factorizations of small kernels per proposal, and a general
 * matrix library's object-per-matrix API cost milliseconds where these flat loops take microseconds.
 * Tested against hand-computed factors and identities in test/linalg.test.ts.
 */

/** Lower Cholesky factor L (row-major, n x n) of A = L L^T, or undefined if A is not positive definite. */
export function cholesky(a: Float64Array, n: number): Float64Array | undefined {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * n + j] as number;
      for (let k = 0; k < j; k++) s -= (l[i * n + k] as number) * (l[j * n + k] as number);
      if (i === j) {
        if (!(s > 0)) return undefined;
        l[i * n + i] = Math.sqrt(s);
      } else {
        l[i * n + j] = s / (l[j * n + j] as number);
      }
    }
  }
  return l;
}

/** A^-1 (row-major, symmetric) from A's Cholesky factor: A^-1 = L^-T L^-1. */
export function inverseFromCholesky(l: Float64Array, n: number): Float64Array {
  // M = L^-1 (lower triangular), by forward substitution column by column.
  const m = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    m[j * n + j] = 1 / (l[j * n + j] as number);
    for (let i = j + 1; i < n; i++) {
      let s = 0;
      for (let k = j; k < i; k++) s -= (l[i * n + k] as number) * (m[k * n + j] as number);
      m[i * n + j] = s / (l[i * n + i] as number);
    }
  }
  // (L^-T L^-1)_ij = sum_{k >= max(i,j)} M_ki M_kj
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = i; k < n; k++) s += (m[k * n + i] as number) * (m[k * n + j] as number);
      inv[i * n + j] = s;
      inv[j * n + i] = s;
    }
  }
  return inv;
}
