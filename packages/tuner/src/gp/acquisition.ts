/**
 * Acquisition functions in the minimization frame (lower is better), evaluated on a fitted GP in
 * normalized target units, and their optimizer over [0,1]^d.
 * - 'ucb': Keras Tuner's "upper confidence bound", which for a minimized target is mu - beta*sigma.
 * - 'ei': expected improvement over the incumbent, as -log(EI) (Optuna's GPSampler also uses log EI:
 *   plain EI is flat zero wherever improvement is unlikely, which leaves the optimizer blind).
 */
import type { GaussianProcess } from './gaussian-process.js';
import { minimize } from './lbfgs.js';
import { type Random, randomPoint } from './random.js';

export type AcquisitionKind = 'ucb' | 'ei';

export interface AcquisitionSpec {
  kind: AcquisitionKind;
  /** Exploration weight of 'ucb'. Keras Tuner's default is 2.6. */
  beta: number;
  /** Best (lowest) observed target, in the GP's target units; needed by 'ei'. */
  incumbent?: number;
}

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

/** Complementary error function with a relative error below 1.2e-7 everywhere (Chebyshev fit, Numerical Recipes' erfcc). */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const poly =
    -1.26551223 +
    t *
      (1.00002368 +
        t *
          (0.37409196 +
            t *
              (0.09678418 +
                t *
                  (-0.18628806 +
                    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const r = t * Math.exp(-z * z + poly);
  return x >= 0 ? r : 2 - r;
}

/** Standard normal CDF, accurate in relative terms far into the lower tail. */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

export function normalPdf(z: number): number {
  return INV_SQRT_2PI * Math.exp(-0.5 * z * z);
}

/**
 * log h(z) with h(z) = phi(z) + z*Phi(z) (so EI = sigma * h(z)), plus the ratios Phi/h and phi/h that
 * its gradient needs. Far in the lower tail h underflows, so an asymptotic series is used there:
 * EI stays informative (and differentiable) where plain EI is a flat 0.
 */
function logH(z: number): { log: number; cdfRatio: number; pdfRatio: number } {
  if (z > -10) {
    const pdf = normalPdf(z);
    const cdf = normalCdf(z);
    const h = Math.max(pdf + z * cdf, Number.MIN_VALUE);
    return { log: Math.log(h), cdfRatio: cdf / h, pdfRatio: pdf / h };
  }
  const w = 1 / (z * z);
  const hOverPdf = w * (1 - 3 * w + 15 * w * w - 105 * w * w * w); // h/phi
  const cdfOverPdf = (1 / -z) * (1 - w + 3 * w * w - 15 * w * w * w); // Phi/phi
  return {
    log: -0.5 * z * z - LOG_SQRT_2PI + Math.log(hOverPdf),
    cdfRatio: cdfOverPdf / hOverPdf,
    pdfRatio: 1 / hOverPdf,
  };
}

/** Acquisition value at x (lower is better); writes its gradient into `grad` when given. */
export function acquisitionValue(
  gp: GaussianProcess,
  x: ArrayLike<number>,
  spec: AcquisitionSpec,
  grad?: Float64Array,
): number {
  const d = gp.dims;
  const gMean = grad ? new Float64Array(d) : undefined;
  const gStd = grad ? new Float64Array(d) : undefined;
  const { mean, std } = gp.predictNormalized(x, gMean, gStd);
  if (spec.kind === 'ucb') {
    if (grad && gMean && gStd)
      for (let k = 0; k < d; k++) grad[k] = (gMean[k] as number) - spec.beta * (gStd[k] as number);
    return mean - spec.beta * std;
  }
  if (spec.incumbent === undefined) throw new Error("the 'ei' acquisition needs the incumbent (best observed target)");
  // log EI = log sigma + log h(z), z = (best - mu) / sigma; we return -log EI.
  const best = gp.normalize(spec.incumbent);
  const z = (best - mean) / std;
  const h = logH(z);
  if (grad && gMean && gStd) {
    // d logEI/d mu = -(Phi/h)/sigma, d logEI/d sigma = (phi/h)/sigma
    for (let k = 0; k < d; k++) grad[k] = (h.cdfRatio * (gMean[k] as number) - h.pdfRatio * (gStd[k] as number)) / std;
  }
  return -(Math.log(std) + h.log);
}

export interface Candidate {
  x: number[];
  value: number;
}

export interface OptimizeAcquisitionOptions {
  random: Random;
  /** Random points scored before local refinement. Default 1000. */
  samples?: number;
  /** How many of the best samples are refined with L-BFGS. Default 20. */
  starts?: number;
}

/**
 * Scores random points, refines the best ones by bounded L-BFGS, and returns every scored point,
 * best first. The caller walks down this list to skip configurations already tried.
 */
export function optimizeAcquisition(
  gp: GaussianProcess,
  spec: AcquisitionSpec,
  options: OptimizeAcquisitionOptions,
): Candidate[] {
  const d = gp.dims;
  const samples = options.samples ?? 1000;
  const starts = options.starts ?? 20;
  const scored: Candidate[] = [];
  for (let i = 0; i < samples; i++) {
    const x = randomPoint(options.random, d);
    scored.push({ x, value: acquisitionValue(gp, x, spec) });
  }
  scored.sort((a, b) => a.value - b.value);
  const lower = new Array<number>(d).fill(0);
  const upper = new Array<number>(d).fill(1);
  const refined: Candidate[] = [];
  for (const start of scored.slice(0, starts)) {
    const result = minimize((x, grad) => acquisitionValue(gp, x, spec, grad), start.x, {
      lower,
      upper,
      maxIterations: 50,
    });
    if (Number.isFinite(result.f)) refined.push({ x: Array.from(result.x), value: result.f });
  }
  return [...refined, ...scored].sort((a, b) => a.value - b.value);
}
