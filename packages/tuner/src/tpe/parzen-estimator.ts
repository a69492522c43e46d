/**
 * The Parzen estimator of TPE (Bergstra et al. 2011; the bandwidth rules of Optuna's TPESampler): a
 * mixture with one kernel per observation plus a prior kernel, over dimensions that are either
 * numeric on [0, 1] (a hyperparameter's cumulative-probability scale, so log and reverse-log ranges are
 * already linear here) or categorical. Numeric kernels are normals truncated to [0, 1]; a numeric
 * dimension with `buckets` takes n equal buckets (steps, integers, ordered choices), its kernels give
 * each bucket its probability mass and samples snap to bucket centres. Categorical kernels put extra
 * weight on the observed category over a uniform floor.
 * Multivariate: one kernel index is shared by all dimensions of a point (a product kernel), with
 * Scott's-rule bandwidths; univariate estimators have one dimension and neighbour-distance bandwidths.
 */
import { normalCdf } from '../gp/acquisition.js';
import type { Random } from '../gp/random.js';

export type Dimension = { kind: 'numeric'; buckets: number | null } | { kind: 'categorical'; size: number };

export interface ParzenOptions {
  /** Weight of the prior kernel (uniform-ish: centre 0.5, width 1) against the observations'. */
  priorWeight: number;
  /** Floor the bandwidths at 1 / min(100, kernels) so a tight cluster does not collapse to a spike. */
  considerMagicClip: boolean;
  /** Univariate bandwidths: count the gap to the range ends for the outermost observations too. */
  considerEndpoints: boolean;
  /** Scott's-rule bandwidth shared by all kernels (for product kernels over several dimensions). */
  multivariate: boolean;
  /** Kernel weights for n observations in chronological order (before the prior is added). */
  weights(n: number): number[];
}

const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);
/** Optuna's SIGMA0_MAGNITUDE: the multivariate bandwidth is 0.2 * n^(-1/(d+4)) of the range. */
const SIGMA0 = 0.2;

interface NumericKernels {
  kind: 'numeric';
  buckets: number | null;
  mus: Float64Array;
  sigmas: Float64Array;
  /** log of each truncated normal's mass on [0, 1]. */
  logZ: Float64Array;
}

interface CategoricalKernels {
  kind: 'categorical';
  size: number;
  /** logProbs[k * size + c]: log probability of category c under kernel k. */
  logProbs: Float64Array;
}

export class ParzenEstimator {
  private readonly logWeights: Float64Array;
  private readonly cumulative: Float64Array;
  private readonly kernels: (NumericKernels | CategoricalKernels)[];

  /**
   * @param observations one row per observation in chronological order: a value in [0, 1] per
   *   numeric dimension (a bucket centre for bucketed ones), a category index per categorical one.
   */
  constructor(
    readonly dimensions: readonly Dimension[],
    observations: readonly (readonly number[])[],
    options: ParzenOptions,
  ) {
    const n = observations.length;
    const raw = options.weights(n).slice(0, n);
    if (raw.length !== n || raw.some((w) => !(Number.isFinite(w) && w >= 0))) {
      throw new RangeError(`TPE weights(${n}) must return ${n} finite numbers >= 0.`);
    }
    const weights = [...raw, options.priorWeight];
    const total = weights.reduce((a, b) => a + b, 0);
    if (!(total > 0)) throw new RangeError('TPE kernel weights must not all be 0.');
    this.logWeights = Float64Array.from(weights, (w) => Math.log(w / total));
    this.cumulative = new Float64Array(weights.length);
    let acc = 0;
    weights.forEach((w, k) => {
      acc += w / total;
      this.cumulative[k] = acc;
    });
    this.kernels = dimensions.map((dim, j) => {
      const column = observations.map((row) => row[j] as number);
      return dim.kind === 'numeric'
        ? numericKernels(dim.buckets, column, dimensions.length, options)
        : categoricalKernels(dim.size, column, options.priorWeight);
    });
  }

  /** `count` points drawn from the mixture. */
  sample(random: Random, count: number): number[][] {
    const points: number[][] = [];
    for (let s = 0; s < count; s++) {
      const k = this.pickKernel(random());
      points.push(
        this.kernels.map((kernels) =>
          kernels.kind === 'numeric' ? sampleNumeric(kernels, k, random()) : sampleCategorical(kernels, k, random()),
        ),
      );
    }
    return points;
  }

  /** The log density (log mass for bucketed and categorical dimensions) of each point. */
  logPdf(points: readonly (readonly number[])[]): number[] {
    const K = this.logWeights.length;
    const terms = new Float64Array(K);
    return points.map((x) => {
      terms.set(this.logWeights);
      this.kernels.forEach((kernels, j) => {
        const v = x[j] as number;
        if (kernels.kind === 'categorical') {
          for (let k = 0; k < K; k++)
            terms[k] = (terms[k] as number) + (kernels.logProbs[k * kernels.size + v] as number);
        } else {
          for (let k = 0; k < K; k++) terms[k] = (terms[k] as number) + numericLogPdf(kernels, k, v);
        }
      });
      return logSumExp(terms);
    });
  }

  private pickKernel(u: number): number {
    // Binary search of the cumulative weights.
    let lo = 0;
    let hi = this.cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (u < (this.cumulative[mid] as number)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}

/** Kernel centres and bandwidths of one numeric dimension; the prior kernel is last. */
function numericKernels(
  buckets: number | null,
  observed: readonly number[],
  dims: number,
  options: ParzenOptions,
): NumericKernels {
  const n = observed.length;
  const mus = Float64Array.from([...observed, 0.5]);
  const sigmas = new Float64Array(n + 1);
  if (options.multivariate) {
    sigmas.fill(SIGMA0 * Math.max(n, 1) ** (-1 / (dims + 4)));
  } else {
    // Each kernel is as wide as the larger gap to its neighbours (the range ends count as neighbours).
    const order = Array.from(mus.keys()).sort((a, b) => (mus[a] as number) - (mus[b] as number));
    const sorted = [0, ...order.map((i) => mus[i] as number), 1];
    order.forEach((index, r) => {
      const left = (sorted[r + 1] as number) - (sorted[r] as number);
      const right = (sorted[r + 2] as number) - (sorted[r + 1] as number);
      let sigma = Math.max(left, right);
      if (!options.considerEndpoints && order.length >= 2) {
        if (r === 0) sigma = right;
        else if (r === order.length - 1) sigma = left;
      }
      sigmas[index] = sigma;
    });
  }
  const minSigma = options.considerMagicClip ? 1 / Math.min(100, n + 2) : 1e-12;
  for (let k = 0; k < n; k++) sigmas[k] = Math.min(1, Math.max(minSigma, sigmas[k] as number));
  sigmas[n] = 1; // the prior spans the whole range
  const logZ = new Float64Array(n + 1);
  for (let k = 0; k <= n; k++) {
    const mu = mus[k] as number;
    const sigma = sigmas[k] as number;
    logZ[k] = Math.log(gaussMass((0 - mu) / sigma, (1 - mu) / sigma));
  }
  return { kind: 'numeric', buckets, mus, sigmas, logZ };
}

/** Each observation's kernel: priorWeight / (n + 1) on every category plus 1 on its own; the prior is uniform. */
function categoricalKernels(size: number, observed: readonly number[], priorWeight: number): CategoricalKernels {
  const n = observed.length;
  const floor = priorWeight / (n + 1);
  const logProbs = new Float64Array((n + 1) * size);
  observed.forEach((c, k) => {
    const total = floor * size + 1;
    for (let v = 0; v < size; v++) logProbs[k * size + v] = Math.log((floor + (v === c ? 1 : 0)) / total);
  });
  for (let v = 0; v < size; v++) logProbs[n * size + v] = -Math.log(size);
  return { kind: 'categorical', size, logProbs };
}

function numericLogPdf(kernels: NumericKernels, k: number, x: number): number {
  const mu = kernels.mus[k] as number;
  const sigma = kernels.sigmas[k] as number;
  const logZ = kernels.logZ[k] as number;
  if (kernels.buckets === null) {
    const z = (x - mu) / sigma;
    return -0.5 * z * z - LOG_SQRT_2PI - Math.log(sigma) - logZ;
  }
  const n = kernels.buckets;
  const i = Math.min(n - 1, Math.max(0, Math.floor(x * n)));
  return logGaussMass((i / n - mu) / sigma, ((i + 1) / n - mu) / sigma) - logZ;
}

/** P(a <= Z <= b) for a standard normal Z, computed on the side of the mean that keeps precision. */
function gaussMass(a: number, b: number): number {
  if (a >= 0) return normalCdf(-a) - normalCdf(-b);
  if (b <= 0) return normalCdf(b) - normalCdf(a);
  return 1 - normalCdf(a) - normalCdf(-b);
}

/** log P(a <= Z <= b); a narrow interval (or one far in a tail) uses density x width instead. */
function logGaussMass(a: number, b: number): number {
  const mass = b - a < 1e-3 ? 0 : gaussMass(a, b);
  if (mass > 1e-300) return Math.log(mass);
  const mid = 0.5 * (a + b);
  return -0.5 * mid * mid - LOG_SQRT_2PI + Math.log(b - a);
}

function sampleNumeric(kernels: NumericKernels, k: number, u: number): number {
  const mu = kernels.mus[k] as number;
  const sigma = kernels.sigmas[k] as number;
  // Inverse-CDF draw from the normal truncated to [0, 1].
  const lo = normalCdf((0 - mu) / sigma);
  const hi = normalCdf((1 - mu) / sigma);
  const p = lo + u * (hi - lo);
  const x = Math.min(1, Math.max(0, mu + sigma * normalQuantile(Math.min(1 - 1e-16, Math.max(1e-300, p)))));
  if (kernels.buckets === null) return x;
  const n = kernels.buckets;
  return (Math.min(n - 1, Math.floor(x * n)) + 0.5) / n;
}

function sampleCategorical(kernels: CategoricalKernels, k: number, u: number): number {
  let acc = 0;
  for (let v = 0; v < kernels.size; v++) {
    acc += Math.exp(kernels.logProbs[k * kernels.size + v] as number);
    if (u < acc) return v;
  }
  return kernels.size - 1;
}

function logSumExp(values: Float64Array): number {
  let max = Number.NEGATIVE_INFINITY;
  for (const v of values) if (v > max) max = v;
  if (!Number.isFinite(max)) return max;
  let sum = 0;
  for (const v of values) sum += Math.exp(v - max);
  return max + Math.log(sum);
}

/** Horner evaluation of c[0] x^(n-1) + ... + c[n-1]. */
function poly(c: readonly number[], x: number): number {
  let acc = 0;
  for (const coefficient of c) acc = acc * x + coefficient;
  return acc;
}

// Acklam's rational approximation of the normal quantile (relative error below 1.2e-9).
const QA = [
  -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239,
];
const QB = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572, 1];
const QC = [
  -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
  2.938163982698783,
];
const QD = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416, 1];
const Q_LOW = 0.02425;

/** The standard normal quantile: z with normalCdf(z) = p, for p in (0, 1). */
export function normalQuantile(p: number): number {
  if (p < Q_LOW) {
    const q = Math.sqrt(-2 * Math.log(p));
    return poly(QC, q) / poly(QD, q);
  }
  if (p > 1 - Q_LOW) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    return -poly(QC, q) / poly(QD, q);
  }
  const q = p - 0.5;
  const r = q * q;
  return (poly(QA, r) * q) / poly(QB, r);
}
