/**
 * Bayesian optimization with a Gaussian process (Keras Tuner's BayesianOptimization, made safe for
 * parallel workers and duplicate-free). With several objectives it is ParEGO: the GP models a
 * random augmented-Chebyshev scalarisation of the objectives, drawn anew for each proposal.
 *
 * Each new trial is decided from the study's stored trials only (several processes may share it):
 * - the first `numInitialPoints` (default max(3 * |space|, 3)) trials are random;
 * - then a Matern 5/2 ARD GP is fitted to the finished trials' encoded values (Keras Tuner's
 *   value->probability mapping, Fixed hyperparameters left out, inactive ones at their default)
 *   and scores (negated when maximizing); RUNNING trials of other workers are hallucinated at the
 *   pessimistic max(mu + sigma, best score) so parallel workers spread out;
 * - the acquisition (UCB = mu - beta*sigma in the minimization frame, or EI) is optimized from many
 *   random starts, and the best candidate whose decoded values were never tried is used. When all
 *   candidates collide, an untried random draw or, for a finite space, the best untried grid point is
 *   used; when nothing is left the search stops (Keras Tuner's #608 cannot happen);
 * - past `tpeAfter` (150) finished trials, where a GP suggestion costs about a CPU second, TPE decides.
 */

import { Oracle, type OracleContext, type OracleOptions, type PopulateResult } from '../engine/oracle.js';
import { Tuner, type TunerOptions } from '../engine/tuner.js';
import {
  type AcquisitionKind,
  type Candidate,
  createRandom,
  GaussianProcess,
  optimizeAcquisition,
} from '../gp/index.js';
import type { MaternParams } from '../gp/matern.js';
import { valuesHash } from '../hash.js';
import type { BuildFn, HyperModel } from '../hypermodel.js';
import { Float, type HpValue, type HyperParameter, type HyperParameters, Int } from '../hyperparameters/index.js';
import { paretoObjectives } from '../objective.js';
import type { HpValues } from '../trial.js';
import { nextCombination } from './grid-search.js';
import { suggestTpe, tpeSettings } from './tpe.js';

export interface BayesianOptimizationOptions {
  /** Random trials before the GP takes over. Default max(3 * number of hyperparameters, 3). */
  numInitialPoints?: number;
  /** Observation noise added to the kernel diagonal (normalized units). Default 1e-4. */
  alpha?: number;
  /** Exploration weight of the UCB acquisition. Default 2.6. */
  beta?: number;
  /**
   * 'ei' (expected improvement) or 'ucb' (Keras Tuner's mu - beta*sigma). Default 'ei', which
   * reached lower regret in bench:tuner, unless `beta` is given: then 'ucb', as in Keras Tuner.
   */
  acquisition?: AcquisitionKind;
  /**
   * Past this many finished trials the GP, whose fit grows with the cube of their number, hands the
   * decisions to TPE (proposedBy 'tpe'): about 0.5 s of CPU per GP suggestion at 150 trials, 1-1.4 s
   * at 200 and 17 s at 500 in bench:tuner's cost section, against at most 0.02 s for TPE. Default 150; Infinity
   * keeps the GP throughout.
   */
  tpeAfter?: number;
}

export type BayesianOptimizationOracleOptions = OracleOptions & BayesianOptimizationOptions;

/** Finite spaces up to this many combinations are enumerated when the acquisition's candidates all collide. */
const MAX_ENUMERATION = 20_000;

export class BayesianOptimizationOracle extends Oracle {
  readonly numInitialPoints: number | undefined;
  readonly alpha: number;
  readonly beta: number;
  readonly acquisition: AcquisitionKind;
  readonly tpeAfter: number;
  private readonly tpe = tpeSettings({ numStartupTrials: 0 });

  constructor(options: BayesianOptimizationOracleOptions = {}) {
    super({ ...options, maxTrials: options.maxTrials === undefined ? 10 : options.maxTrials });
    const { numInitialPoints, alpha = 1e-4, beta = 2.6 } = options;
    const acquisition = options.acquisition ?? (options.beta === undefined ? 'ei' : 'ucb');
    if (numInitialPoints !== undefined && (!Number.isInteger(numInitialPoints) || numInitialPoints < 1)) {
      throw new RangeError(`numInitialPoints must be a positive integer, got ${numInitialPoints}.`);
    }
    if (!(Number.isFinite(alpha) && alpha > 0)) throw new RangeError(`alpha must be a positive number, got ${alpha}.`);
    if (!(Number.isFinite(beta) && beta >= 0)) throw new RangeError(`beta must be a number >= 0, got ${beta}.`);
    if (acquisition !== 'ucb' && acquisition !== 'ei') {
      throw new RangeError(`acquisition must be 'ucb' or 'ei', got '${String(acquisition)}'.`);
    }
    this.numInitialPoints = numInitialPoints;
    this.alpha = alpha;
    this.beta = beta;
    this.acquisition = acquisition;
    this.tpeAfter = options.tpeAfter ?? 150;
    if (!(this.tpeAfter >= 0)) throw new RangeError(`tpeAfter must be a number >= 0, got ${options.tpeAfter}.`);
  }

  protected populateSpace(_trialId: string, ctx: OracleContext): PopulateResult {
    const space = ctx.hyperparameters;
    const tunable = space.space.filter((h) => h.kind !== 'Fixed');
    const initial = this.numInitialPoints ?? Math.max(3 * space.space.length, 3);
    const completed = ctx.trials.filter((t) => t.status === 'COMPLETED' && t.score !== null);
    if (completed.length < initial || tunable.length === 0) return this.random(ctx, 'random');

    const tried = new Set(ctx.trials.map((t) => valuesHash(t.hyperparameters.values)));
    const objectives = paretoObjectives(this.objective);
    let observed: typeof ctx.trials;
    let y: number[];
    if (objectives) {
      // ParEGO: each proposal models one random scalarisation of the objectives.
      observed = ctx.trials.filter((t) => t.status === 'COMPLETED' && t.values);
      y = parEgoScalarise(
        observed.map((t) => t.values as number[]),
        objectives,
        ctx.random,
      );
    } else {
      const sign = this.objective.direction === 'max' ? -1 : 1;
      observed = ctx.trials.filter(
        (t) => (t.status === 'COMPLETED' || t.status === 'PRUNED') && t.score !== null && Number.isFinite(t.score),
      );
      y = observed.map((t) => sign * (t.score as number));
    }
    const random = createRandom(Math.floor(ctx.random() * 2 ** 32));
    if (observed.length > this.tpeAfter) {
      const directions = (objectives ?? [this.objective]).map((o) => o.direction);
      const values = suggestTpe(ctx, directions, this.tpe, random);
      return values
        ? { status: 'RUNNING', values, userData: { proposedBy: 'tpe' } }
        : this.random(ctx, 'random-fallback');
    }
    const x = observed.map((t) => encode(tunable, t.hyperparameters));

    let candidates: Candidate[];
    let gp: GaussianProcess;
    try {
      const warm = ctx.state.gpParams as MaternParams | undefined;
      gp = GaussianProcess.fit(x, y, { alpha: this.alpha, random, ...(warm ? { warmStart: warm } : {}) });
      ctx.state.gpParams = {
        lengthScales: Array.from(gp.params.lengthScales),
        signalVariance: gp.params.signalVariance,
      };
      const pending = ctx.trials.filter((t) => t.status === 'RUNNING').map((t) => encode(tunable, t.hyperparameters));
      if (pending.length > 0) {
        // Hallucinate running trials at a pessimistic value so this proposal moves away from them:
        // Keras Tuner's mu + sigma, but never better than the best score, or EI would still favour them.
        const incumbent = Math.min(...y);
        const hallucinated = pending.map((p) => {
          const { mean, std } = gp.predict(p);
          return Math.max(mean + std, incumbent);
        });
        gp = GaussianProcess.fit([...x, ...pending], [...y, ...hallucinated], { alpha: this.alpha, fixed: gp.params });
      }
      candidates = optimizeAcquisition(
        gp,
        { kind: this.acquisition, beta: this.beta, incumbent: Math.min(...y) },
        { random },
      );
    } catch {
      // A degenerate fit (it should not happen with the noise term) must not end the search.
      return this.random(ctx, 'random');
    }

    for (const c of candidates) {
      const values = decode(space, tunable, c.x);
      if (!tried.has(valuesHash(values))) {
        return { status: 'RUNNING', values, userData: { proposedBy: objectives ? 'parego' : 'gp' } };
      }
    }
    // Every candidate decodes to a tried configuration: the space is (nearly) exhausted around them.
    const enumerated = bestUntriedCombination(space, tunable, tried, (p) => {
      const { mean, std } = gp.predictNormalized(p);
      return mean - this.beta * std; // a confidence bound ranks what is left; fine for either acquisition
    });
    if (enumerated !== undefined) {
      return enumerated === null
        ? { status: 'STOPPED' }
        : { status: 'RUNNING', values: enumerated, userData: { proposedBy: 'gp-enumerated' } };
    }
    return this.random(ctx, 'random-fallback');
  }

  private random(ctx: OracleContext, proposedBy: string): PopulateResult {
    const values = this.randomValues(ctx);
    return values ? { status: 'RUNNING', values, userData: { proposedBy } } : { status: 'STOPPED' };
  }
}

/**
 * ParEGO's scalarisation (Knowles 2006) of objective vectors, to be minimised: each objective is
 * brought to the minimisation frame and normalised to [0, 1] over the observed points, then
 * f = max_i(w_i f_i) + 0.05 * sum_i(w_i f_i) with weights w drawn uniformly from the simplex. A new
 * weight per proposal makes successive proposals aim at different parts of the front.
 */
export function parEgoScalarise(
  points: readonly (readonly number[])[],
  objectives: readonly { direction: 'min' | 'max' }[],
  random: () => number,
): number[] {
  const m = objectives.length;
  const raw = objectives.map(() => -Math.log(1 - random()));
  const total = raw.reduce((a, b) => a + b, 0);
  const weights = raw.map((r) => r / total);
  const framed = points.map((p) => p.map((v, i) => (objectives[i]?.direction === 'max' ? -v : v)));
  const lo = Array.from({ length: m }, (_, i) => Math.min(...framed.map((p) => p[i] as number)));
  const hi = Array.from({ length: m }, (_, i) => Math.max(...framed.map((p) => p[i] as number)));
  return framed.map((p) => {
    const scaled = p.map((v, i) => {
      const range = (hi[i] as number) - (lo[i] as number);
      return (weights[i] as number) * (range > 0 ? (v - (lo[i] as number)) / range : 0);
    });
    return Math.max(...scaled) + 0.05 * scaled.reduce((a, b) => a + b, 0);
  });
}

/** A trial's values as a point in [0,1]^d: Keras Tuner's value->prob, default for inactive hyperparameters. */
export function encode(tunable: HyperParameter[], hp: HyperParameters): number[] {
  return tunable.map((h) => {
    const active = hp.isActive(h) && h.name in hp.values && h.accepts(hp.values[h.name] as HpValue);
    const p = h.valueToProb(active ? (hp.values[h.name] as HpValue) : h.default);
    return Number.isFinite(p) ? Math.min(1, Math.max(0, p)) : 0.5;
  });
}

/** A point of [0,1]^d back to values (active hyperparameters only; Fixed ones at their value). */
export function decode(space: HyperParameters, tunable: HyperParameter[], x: readonly number[]): HpValues {
  const hp = space.copy();
  hp.values = {};
  for (const h of hp.space) {
    if (h.kind !== 'Fixed') {
      const index = tunable.findIndex((t) => t.name === h.name && t.sameAs(h));
      hp.values[h.name] = h.probToValue(Math.min(x[index] ?? 0.5, 1 - 1e-12));
    }
  }
  // Conditional values are dropped or defaulted in space order, exactly as a trial sees them.
  const wanted = { ...hp.values };
  hp.values = {};
  for (const h of hp.space) {
    if (!hp.isActive(h)) continue;
    hp.values[h.name] = h.kind === 'Fixed' ? h.default : (wanted[h.name] ?? h.default);
  }
  hp.ensureActiveValues();
  return hp.values;
}

/**
 * For a finite space (no continuous Float) of at most MAX_ENUMERATION combinations: the untried
 * combination with the lowest score, or null when every combination was tried. Undefined when the
 * space is continuous or too large to enumerate.
 */
function bestUntriedCombination(
  space: HyperParameters,
  tunable: HyperParameter[],
  tried: Set<string>,
  score: (x: number[]) => number,
): HpValues | null | undefined {
  // gridValues() lists every value only for stepped ranges (and Int on a linear scale).
  const finite = tunable.every(
    (h) =>
      !(h instanceof Float && h.step === null) && !(h instanceof Int && h.step === null && h.sampling !== 'linear'),
  );
  if (!finite) return undefined;
  const first = space.copy();
  first.values = {};
  first.ensureActiveValues();
  let combination: HpValues | null = first.values;
  let best: { values: HpValues; score: number } | undefined;
  for (let count = 0; combination !== null; count++) {
    if (count >= MAX_ENUMERATION) return undefined;
    if (!tried.has(valuesHash(combination))) {
      const hp = space.copy();
      hp.values = { ...combination };
      const s = score(encode(tunable, hp));
      if (!best || s < best.score) best = { values: combination, score: s };
    }
    combination = nextCombination(space, combination);
  }
  return best ? best.values : null;
}

/** Keras Tuner's BayesianOptimization tuner: a Tuner driven by a BayesianOptimizationOracle. */
export class BayesianOptimization extends Tuner {
  constructor(hypermodel: HyperModel | BuildFn | null, options: TunerOptions & BayesianOptimizationOptions = {}) {
    super(hypermodel, { ...options, oracle: new BayesianOptimizationOracle(options) });
  }
}
