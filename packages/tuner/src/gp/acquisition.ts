/**
 * Acquisition functions in the minimization frame (lower is better), evaluated on a fitted GP in
 * normalized target units, and their optimizer over [0,1]^d.
 * - 'ucb': Keras Tuner's "upper confidence bound", which for a minimized target is mu - beta*sigma.
 * - 'ei': expected improvement over the incumbent, returned negated.
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

/** Standard normal CDF (Abramowitz-Stegun 7.1.26 via erfc, accurate to ~1e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erfc = poly * Math.exp(-x * x);
  return z >= 0 ? 1 - 0.5 * erfc : 0.5 * erfc;
}

export function normalPdf(z: number): number {
  return INV_SQRT_2PI * Math.exp(-0.5 * z * z);
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
  const best = gp.normalize(spec.incumbent);
  const z = (best - mean) / std;
  const cdf = normalCdf(z);
  const pdf = normalPdf(z);
  const ei = (best - mean) * cdf + std * pdf;
  if (grad && gMean && gStd) {
    // dEI/dmu = -Phi(z), dEI/dsigma = phi(z); we return -EI.
    for (let k = 0; k < d; k++) grad[k] = cdf * (gMean[k] as number) - pdf * (gStd[k] as number);
  }
  return -ei;
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
