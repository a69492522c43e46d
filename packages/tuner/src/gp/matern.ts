/**
 * Matern 5/2 kernel with one length scale per dimension (ARD):
 *   k(x, x') = s2 * (1 + sqrt5*r + 5/3*r^2) * exp(-sqrt5*r),   r^2 = sum_k (x_k - x'_k)^2 / l_k^2
 * The derivatives below are written so that none divides by r (they stay finite at r = 0).
 */
const SQRT5 = Math.sqrt(5);

export interface MaternParams {
  lengthScales: ArrayLike<number>;
  signalVariance: number;
}

/** Scaled distance r between two points. */
export function scaledDistance(a: ArrayLike<number>, b: ArrayLike<number>, lengthScales: ArrayLike<number>): number {
  let r2 = 0;
  for (let k = 0; k < a.length; k++) {
    const d = ((a[k] as number) - (b[k] as number)) / (lengthScales[k] as number);
    r2 += d * d;
  }
  return Math.sqrt(r2);
}

/** Kernel value as a function of the scaled distance r. */
export function maternFromDistance(r: number, signalVariance: number): number {
  const sr = SQRT5 * r;
  return signalVariance * (1 + sr + (5 / 3) * r * r) * Math.exp(-sr);
}

/**
 * The common factor of all derivatives: (5/3) * s2 * (1 + sqrt5*r) * exp(-sqrt5*r).
 * dk/dx_k = -factor * (x_k - x'_k) / l_k^2 and dk/dlog(l_k) = factor * (x_k - x'_k)^2 / l_k^2.
 */
export function maternDerivativeFactor(r: number, signalVariance: number): number {
  const sr = SQRT5 * r;
  return (5 / 3) * signalVariance * (1 + sr) * Math.exp(-sr);
}

export function matern52(a: ArrayLike<number>, b: ArrayLike<number>, params: MaternParams): number {
  return maternFromDistance(scaledDistance(a, b, params.lengthScales), params.signalVariance);
}
