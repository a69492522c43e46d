/**
 * Gaussian-process regression on [0,1]^d with a Matern 5/2 ARD kernel.
 * Targets are normalized (zero mean, unit variance); `alpha` is added to the kernel's diagonal as
 * observation noise (in normalized units, as scikit-learn's GaussianProcessRegressor does).
 * Length scales and signal variance maximize the log marginal likelihood (plus a weak log-normal
 * prior on the length scales that keeps a fit on a handful of points from collapsing), found by
 * bounded L-BFGS from the previous optimum and several random starts.
 */
import { minimize } from './lbfgs.js';
import { cholesky, inverseFromCholesky } from './linalg.js';
import { type MaternParams, maternDerivativeFactor, maternFromDistance, scaledDistance } from './matern.js';
import { createRandom, type Random } from './random.js';

export class GaussianProcessError extends Error {
  override name = 'GaussianProcessError';
}

export interface FitOptions {
  /** Noise added to the diagonal, in normalized target units. Default 1e-4 (Keras Tuner's alpha). */
  alpha?: number;
  /** Random restarts of the likelihood optimizer besides the warm start. Default 4. */
  restarts?: number;
  random?: Random;
  /** Start from these kernel parameters (e.g. the previous fit's) as well. */
  warmStart?: MaternParams;
  /** Skip the likelihood optimization and use these kernel parameters as they are. */
  fixed?: MaternParams;
  lengthScaleBounds?: [number, number];
  signalVarianceBounds?: [number, number];
}

export interface Prediction {
  mean: number;
  std: number;
}

const DEFAULT_LENGTH_BOUNDS: [number, number] = [0.03, 5];
const DEFAULT_VARIANCE_BOUNDS: [number, number] = [0.05, 20];
/** Weak prior on log(length scale): centred on 0.5 of the unit cube, wide enough to be overruled by data. */
const PRIOR_LOG_MEAN = Math.log(0.5);
const PRIOR_LOG_SD = 1;
const JITTER = 1e-9;

interface Factorized {
  alphaVector: Float64Array; // K^-1 y
  inverse: Float64Array; // K^-1, row-major n x n
  logDetHalf: number; // sum log L_ii = log det(K) / 2
}

function factorize(kernel: Float64Array, targets: Float64Array): Factorized | undefined {
  const n = targets.length;
  const lower = cholesky(kernel, n);
  if (!lower) return undefined;
  let logDetHalf = 0;
  for (let i = 0; i < n; i++) logDetHalf += Math.log(lower[i * n + i] as number);
  const inverse = inverseFromCholesky(lower, n);
  const alphaVector = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += (inverse[i * n + j] as number) * (targets[j] as number);
    alphaVector[i] = s;
  }
  return { alphaVector, inverse, logDetHalf };
}

export class GaussianProcess {
  private constructor(
    private readonly points: Float64Array[],
    readonly params: MaternParams,
    private readonly yMean: number,
    private readonly yStd: number,
    private readonly factorized: Factorized,
    /** Normalized targets (for acquisition functions that need the incumbent). */
    readonly normalizedTargets: Float64Array,
    readonly negLogLikelihood: number,
  ) {}

  get dims(): number {
    return this.points[0]?.length ?? 0;
  }

  /** Fits a GP to points in [0,1]^d and their targets. */
  static fit(x: readonly (readonly number[])[], y: readonly number[], options: FitOptions = {}): GaussianProcess {
    const n = x.length;
    if (n === 0) throw new GaussianProcessError('cannot fit a Gaussian process to zero points');
    if (y.length !== n) throw new GaussianProcessError(`got ${n} points but ${y.length} targets`);
    const d = x[0]?.length ?? 0;
    if (d === 0) throw new GaussianProcessError('points must have at least one dimension');
    for (const [i, p] of x.entries()) {
      if (p.length !== d) throw new GaussianProcessError(`point ${i} has ${p.length} dimensions, expected ${d}`);
      if (!p.every(Number.isFinite)) throw new GaussianProcessError(`point ${i} has a non-finite coordinate`);
    }
    if (!y.every(Number.isFinite)) throw new GaussianProcessError('targets must be finite numbers');

    const alpha = options.alpha ?? 1e-4;
    const points = x.map((p) => Float64Array.from(p));
    const yMean = y.reduce((s, v) => s + v, 0) / n;
    const variance = y.reduce((s, v) => s + (v - yMean) ** 2, 0) / n;
    const yStd = variance > 1e-24 ? Math.sqrt(variance) : 1;
    const targets = Float64Array.from(y, (v) => (v - yMean) / yStd);

    // Squared coordinate differences, per dimension, reused by every likelihood evaluation.
    const sq: Float64Array[] = Array.from({ length: d }, () => new Float64Array(n * n));
    for (let k = 0; k < d; k++) {
      const m = sq[k] as Float64Array;
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          const diff = (points[i]?.[k] as number) - (points[j]?.[k] as number);
          m[i * n + j] = diff * diff;
        }
      }
    }

    const buildKernel = (lengthScales: Float64Array, s2: number): { kernel: Float64Array; dist: Float64Array } => {
      const kernel = new Float64Array(n * n);
      const dist = new Float64Array(n * n);
      const inv2 = lengthScales.map((l) => 1 / (l * l));
      for (let i = 0; i < n; i++) {
        for (let j = 0; j <= i; j++) {
          let r2 = 0;
          for (let k = 0; k < d; k++) r2 += (sq[k]?.[i * n + j] as number) * (inv2[k] as number);
          const r = Math.sqrt(r2);
          dist[i * n + j] = r;
          dist[j * n + i] = r;
          const v = maternFromDistance(r, s2) + (i === j ? alpha + JITTER : 0);
          kernel[i * n + j] = v;
          kernel[j * n + i] = v;
        }
      }
      return { kernel, dist };
    };

    const [lMin, lMax] = options.lengthScaleBounds ?? DEFAULT_LENGTH_BOUNDS;
    const [vMin, vMax] = options.signalVarianceBounds ?? DEFAULT_VARIANCE_BOUNDS;
    const lower = [...Array(d).fill(Math.log(lMin)), Math.log(vMin)];
    const upper = [...Array(d).fill(Math.log(lMax)), Math.log(vMax)];

    // Negative log posterior over theta = [log l_1..log l_d, log s2], with its gradient.
    const objective = (theta: Float64Array, grad: Float64Array): number => {
      const ls = theta.subarray(0, d).map(Math.exp);
      const s2 = Math.exp(theta[d] as number);
      const { kernel, dist } = buildKernel(ls, s2);
      const f = factorize(kernel, targets);
      if (!f) return Number.POSITIVE_INFINITY;
      let nll = 0.5 * n * Math.log(2 * Math.PI) + f.logDetHalf;
      for (let i = 0; i < n; i++) nll += 0.5 * (targets[i] as number) * (f.alphaVector[i] as number);
      grad.fill(0);
      const inv2 = ls.map((l) => 1 / (l * l));
      for (let i = 0; i < n; i++) {
        const ai = f.alphaVector[i] as number;
        for (let j = 0; j < n; j++) {
          // W = K^-1 - alpha alpha^T; dNLL/dtheta = 0.5 * sum W .* dK/dtheta
          const w = 0.5 * ((f.inverse[i * n + j] as number) - ai * (f.alphaVector[j] as number));
          const r = dist[i * n + j] as number;
          grad[d] = (grad[d] as number) + w * maternFromDistance(r, s2);
          if (i === j) continue;
          const factor = w * maternDerivativeFactor(r, s2);
          for (let k = 0; k < d; k++) {
            grad[k] = (grad[k] as number) + factor * (sq[k]?.[i * n + j] as number) * (inv2[k] as number);
          }
        }
      }
      for (let k = 0; k < d; k++) {
        const z = ((theta[k] as number) - PRIOR_LOG_MEAN) / PRIOR_LOG_SD;
        nll += 0.5 * z * z;
        grad[k] = (grad[k] as number) + z / PRIOR_LOG_SD;
      }
      return nll;
    };

    const toTheta = (p: MaternParams): number[] => [
      ...Array.from(p.lengthScales, (l) => Math.log(l)),
      Math.log(p.signalVariance),
    ];
    let best: { theta: Float64Array; f: number } | undefined;
    if (options.fixed) {
      const theta = Float64Array.from(toTheta(options.fixed));
      best = { theta, f: objective(theta, new Float64Array(d + 1)) };
    } else {
      const random = options.random ?? createRandom(1);
      const starts: number[][] = [
        toTheta(options.warmStart ?? { lengthScales: Array(d).fill(0.5), signalVariance: 1 }),
      ];
      const restarts = options.restarts ?? 4;
      for (let s = 0; s < restarts; s++) {
        starts.push([
          ...Array.from({ length: d }, () => Math.log(0.05) + random() * (Math.log(2) - Math.log(0.05))),
          Math.log(0.5) + random() * (Math.log(2) - Math.log(0.5)),
        ]);
      }
      for (const start of starts) {
        if (start.length !== d + 1) continue; // a warm start from another space's fit
        const result = minimize(objective, start, { lower, upper, maxIterations: 60, functionTolerance: 1e-7 });
        if (Number.isFinite(result.f) && (!best || result.f < best.f)) best = { theta: result.x, f: result.f };
      }
    }
    if (!best || !Number.isFinite(best.f)) {
      throw new GaussianProcessError('the kernel matrix is not positive definite for any kernel parameters tried');
    }
    const params: MaternParams = {
      lengthScales: Array.from(best.theta.subarray(0, d), Math.exp),
      signalVariance: Math.exp(best.theta[d] as number),
    };
    const { kernel } = buildKernel(Float64Array.from(params.lengthScales), params.signalVariance);
    const factorized = factorize(kernel, targets);
    if (!factorized) throw new GaussianProcessError('the kernel matrix is not positive definite');
    return new GaussianProcess(points, params, yMean, yStd, factorized, targets, best.f);
  }

  /** Posterior mean and standard deviation in the units of the targets. */
  predict(x: ArrayLike<number>): Prediction {
    const p = this.predictNormalized(x);
    return { mean: p.mean * this.yStd + this.yMean, std: p.std * this.yStd };
  }

  /** Converts a target value into normalized units (those of `predictNormalized`). */
  normalize(y: number): number {
    return (y - this.yMean) / this.yStd;
  }

  /**
   * Posterior mean and standard deviation in normalized units. When `gradMean`/`gradStd` are given,
   * their derivatives with respect to x are written into them.
   */
  predictNormalized(x: ArrayLike<number>, gradMean?: Float64Array, gradStd?: Float64Array): Prediction {
    const n = this.points.length;
    const d = this.dims;
    if (x.length !== d) throw new GaussianProcessError(`expected a point with ${d} dimensions, got ${x.length}`);
    const { lengthScales, signalVariance } = this.params;
    const kStar = new Float64Array(n);
    const factors = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const r = scaledDistance(x, this.points[i] as Float64Array, lengthScales);
      kStar[i] = maternFromDistance(r, signalVariance);
      if (gradMean || gradStd) factors[i] = maternDerivativeFactor(r, signalVariance);
    }
    const { alphaVector, inverse } = this.factorized;
    let mean = 0;
    const v = new Float64Array(n); // K^-1 k*
    let quad = 0;
    for (let i = 0; i < n; i++) {
      mean += (kStar[i] as number) * (alphaVector[i] as number);
      let s = 0;
      for (let j = 0; j < n; j++) s += (inverse[i * n + j] as number) * (kStar[j] as number);
      v[i] = s;
      quad += (kStar[i] as number) * s;
    }
    const variance = Math.max(signalVariance - quad, 1e-12);
    const std = Math.sqrt(variance);
    if (gradMean || gradStd) {
      gradMean?.fill(0);
      gradStd?.fill(0);
      for (let i = 0; i < n; i++) {
        const p = this.points[i] as Float64Array;
        for (let k = 0; k < d; k++) {
          const l = lengthScales[k] as number;
          const dk = (-(factors[i] as number) * ((x[k] as number) - (p[k] as number))) / (l * l);
          if (gradMean) gradMean[k] = (gradMean[k] as number) + dk * (alphaVector[i] as number);
          // d(var)/dx = -2 * dk*^T K^-1 k*, d(std)/dx = d(var)/dx / (2 std)
          if (gradStd) gradStd[k] = (gradStd[k] as number) - (dk * (v[i] as number)) / std;
        }
      }
    }
    return { mean, std };
  }
}
