/**
 * Tree-structured Parzen estimator (Bergstra et al. 2011, with the refinements of Optuna's
 * TPESampler): its oracle and its tuner.
 *
 * Each new trial is decided from the study's stored trials only (several processes may share it):
 * - the first `numStartupTrials` (default 10) finished trials are random;
 * - then the finished trials are split by score: the best gamma(n) (default min(ceil(n / 10), 25))
 *   make the "good" density l(x), the rest the "bad" density g(x); PRUNED trials rank after every
 *   COMPLETED one, and RUNNING trials of other workers count as bad (the constant liar) so parallel
 *   workers are pushed apart;
 * - `numEiCandidates` (24) points drawn from l are scored by log l(x) - log g(x), which ranks like
 *   expected improvement, and the best untried configuration is used.
 * With several objectives it is MOTPE: the good trials are the best non-dominated fronts, weighted
 * by their hypervolume contributions (see `split`).
 * Univariate (default off): one estimator per hyperparameter. Multivariate: one joint estimator per
 * group of hyperparameters that were always active together, so a conditional space (children only
 * active under a parent's value) is modelled per branch from the trials that took that branch.
 * Values live on each hyperparameter's [0, 1] probability scale (log and reverse-log ranges are linear
 * there); steps, integers and ordered choices are bucketed; unordered choices and booleans are categorical.
 */
import { hypervolume } from '@tuneserve/client';
import { Oracle, type OracleContext, type OracleOptions, type PopulateResult } from '../engine/oracle.js';
import { Tuner, type TunerOptions } from '../engine/tuner.js';
import { createRandom, type Random } from '../gp/random.js';
import { valuesHash } from '../hash.js';
import type { BuildFn, HyperModel } from '../hypermodel.js';
import {
  BooleanHp,
  Choice,
  Float,
  type HpValue,
  type HyperParameter,
  type HyperParameters,
  Int,
} from '../hyperparameters/index.js';
import { type Direction, paretoObjectives } from '../objective.js';
import { nonDominatedRanks } from '../pareto.js';
import { type Dimension, ParzenEstimator } from '../tpe/parzen-estimator.js';
import type { HpValues, Trial } from '../trial.js';

export interface TPEOptions {
  /**
   * Random trials before the estimators take over. Default 10 (Optuna's), but at most half of
   * maxTrials, so a small budget still gets model-based trials.
   */
  numStartupTrials?: number;
  /** Points drawn from l(x) and ranked per decision. Default 24. */
  numEiCandidates?: number;
  /**
   * One joint estimator per group of hyperparameters that are active together (default true),
   * instead of one per hyperparameter: it sees interactions, and reached lower regret in bench:tuner.
   */
  multivariate?: boolean;
  /** Count other workers' RUNNING trials as bad results, so parallel workers spread out. Default true. */
  constantLiar?: boolean;
  /** Weight of the prior kernel (the whole range) against one observation. Default 1. */
  priorWeight?: number;
  /** Univariate bandwidths also count the gap to the range ends for the outermost points. Default false. */
  considerEndpoints?: boolean;
  /** Floor each bandwidth at 1/min(100, kernels) of the range. Default true. */
  considerMagicClip?: boolean;
  /** How many of n finished trials form l(x). Default min(ceil(n / 10), 25). */
  gamma?: (n: number) => number;
  /** Kernel weights of n observations, oldest first. Default: equal up to 25, older ones ramp down beyond. */
  weights?: (n: number) => number[];
}

export type TPESettings = Required<TPEOptions>;
export type TPEOracleOptions = OracleOptions & TPEOptions;

/** Optuna's default gamma: a tenth of the finished trials, at most 25. */
export function defaultGamma(n: number): number {
  return Math.min(Math.ceil(0.1 * n), 25);
}

/** Equal weights for the 25 newest observations; older ones ramp linearly from 1/n up to 1. */
export function defaultWeights(n: number): number[] {
  if (n < 25) return Array.from({ length: n }, () => 1);
  const ramp = n - 25;
  return Array.from({ length: n }, (_, i) =>
    i >= ramp ? 1 : ramp === 1 ? 1 / n : 1 / n + (i * (1 - 1 / n)) / (ramp - 1),
  );
}

/** The options with their defaults, validated (RangeError naming the option). */
export function tpeSettings(options: TPEOptions = {}): TPESettings {
  const s: TPESettings = {
    numStartupTrials: options.numStartupTrials ?? 10,
    numEiCandidates: options.numEiCandidates ?? 24,
    multivariate: options.multivariate ?? true,
    constantLiar: options.constantLiar ?? true,
    priorWeight: options.priorWeight ?? 1,
    considerEndpoints: options.considerEndpoints ?? false,
    considerMagicClip: options.considerMagicClip ?? true,
    gamma: options.gamma ?? defaultGamma,
    weights: options.weights ?? defaultWeights,
  };
  if (!Number.isInteger(s.numStartupTrials) || s.numStartupTrials < 0) {
    throw new RangeError(`numStartupTrials must be an integer >= 0, got ${s.numStartupTrials}.`);
  }
  if (!Number.isInteger(s.numEiCandidates) || s.numEiCandidates < 1) {
    throw new RangeError(`numEiCandidates must be a positive integer, got ${s.numEiCandidates}.`);
  }
  if (!(Number.isFinite(s.priorWeight) && s.priorWeight > 0)) {
    throw new RangeError(`priorWeight must be a positive number, got ${s.priorWeight}.`);
  }
  return s;
}

/** How one hyperparameter definition sits in the estimators' space. */
interface Encoding {
  /** Index of the definition in the space. */
  index: number;
  hp: HyperParameter;
  dimension: Dimension;
  encode(value: HpValue): number;
  decode(x: number): HpValue;
}

function encodingOf(hp: HyperParameter, index: number): Encoding | undefined {
  if (hp.kind === 'Fixed') return undefined;
  if (hp instanceof BooleanHp || (hp instanceof Choice && !hp.ordered)) {
    const values: HpValue[] = hp instanceof Choice ? hp.values : [false, true];
    return {
      index,
      hp,
      dimension: { kind: 'categorical', size: values.length },
      encode: (v) => Math.max(0, values.indexOf(v)),
      decode: (x) => values[x] as HpValue,
    };
  }
  // Steps, linear integers and ordered choices have equal buckets on the probability scale.
  const bucketed = hp instanceof Choice || ((hp instanceof Int || hp instanceof Float) && hp.step !== null);
  return {
    index,
    hp,
    dimension: { kind: 'numeric', buckets: bucketed ? hp.gridValues().length : null },
    encode: (v) => Math.min(1, Math.max(0, hp.valueToProb(v))),
    decode: (x) => hp.probToValue(Math.min(x, 1 - 1e-12)),
  };
}

/** The trial's value of `hp` when that definition was active in it. */
function activeValue(trial: Trial, hp: HyperParameter): HpValue | undefined {
  const hps = trial.hyperparameters;
  const value = hps.values[hp.name];
  return value !== undefined && hp.accepts(value) && hps.isActive(hp) ? value : undefined;
}

/**
 * Groups of encodings that were active in exactly the same trials (Optuna's group decomposition):
 * each group is all there or all absent in every trial, so one joint estimator per group sees
 * complete rows. Ordered by their first hyperparameter's place in the space.
 */
function groupsByPresence(encodings: Encoding[], trials: Trial[]): Encoding[][] {
  const groups = new Map<string, Encoding[]>();
  for (const e of encodings) {
    const key = trials.map((t) => (activeValue(t, e.hp) === undefined ? '0' : '1')).join('');
    const group = groups.get(key);
    if (group) group.push(e);
    else groups.set(key, [e]);
  }
  return [...groups.values()];
}

/** The good trials and, for several objectives, their kernel weights. */
interface Split {
  finished: Trial[];
  below: Set<Trial>;
  weights?: Map<Trial, number>;
}

/**
 * One objective: the best gamma(n) by score, PRUNED trials after every COMPLETED one. Several
 * objectives (MOTPE, Ozaki et al. 2020): COMPLETED trials by non-dominated front; the front that
 * does not fit whole is cut by greedy hypervolume contribution, and each good trial's kernel weighs
 * its hypervolume contribution among the good ones.
 */
function split(trials: Trial[], objectives: readonly Direction[], settings: TPESettings): Split | undefined {
  const signs = objectives.map((d) => (d === 'max' ? -1 : 1));
  if (objectives.length === 1) {
    const sign = signs[0] as number;
    const finished = trials.filter(
      (t) => (t.status === 'COMPLETED' || t.status === 'PRUNED') && t.score !== null && Number.isFinite(t.score),
    );
    if (finished.length < Math.max(settings.numStartupTrials, 1)) return undefined;
    const ranked = finished
      .map((t, order) => ({ t, order, pruned: t.status === 'PRUNED' ? 1 : 0, value: sign * (t.score as number) }))
      .sort((a, b) => a.pruned - b.pruned || a.value - b.value || a.order - b.order);
    const nBelow = belowCount(finished.length, settings);
    return { finished, below: new Set(ranked.slice(0, nBelow).map((r) => r.t)) };
  }
  const finished = trials.filter(
    (t) =>
      t.status === 'COMPLETED' &&
      Array.isArray(t.values) &&
      t.values.length === objectives.length &&
      t.values.every((v) => Number.isFinite(v)),
  );
  if (finished.length < Math.max(settings.numStartupTrials, 1)) return undefined;
  // Minimisation frame from here on.
  const points = finished.map((t) => (t.values as number[]).map((v, k) => (signs[k] as number) * v));
  const mins = objectives.map(() => ({ direction: 'min' as const }));
  const ranks = nonDominatedRanks(points, mins);
  const nBelow = belowCount(finished.length, settings);
  const chosen: number[] = [];
  for (let rank = 0; chosen.length < nBelow; rank++) {
    const front = ranks.flatMap((r, i) => (r === rank ? [i] : []));
    if (chosen.length + front.length <= nBelow) chosen.push(...front);
    else chosen.push(...greedyHypervolumeSubset(front, points, nBelow - chosen.length, mins));
  }
  const below = new Set(chosen.map((i) => finished[i] as Trial));
  const contributions = hypervolumeContributions(
    chosen.map((i) => points[i] as number[]),
    mins,
  );
  const top = Math.max(...contributions);
  const weights = new Map(chosen.map((i, j) => [finished[i] as Trial, (contributions[j] as number) / top]));
  return { finished, below, weights };
}

function belowCount(n: number, settings: TPESettings): number {
  return Math.min(n, Math.max(1, Math.floor(settings.gamma(n))));
}

/** Optuna's reference point: 10% beyond the worst value of each objective (minimisation frame). */
function referencePoint(points: readonly number[][]): number[] {
  const m = (points[0] as number[]).length;
  return Array.from({ length: m }, (_, k) => {
    const worst = Math.max(...points.map((p) => p[k] as number));
    const ref = Math.max(1.1 * worst, 0.9 * worst);
    return ref === 0 ? 1e-12 : ref;
  });
}

/** `count` members of `front` picked one at a time by largest added hypervolume. */
function greedyHypervolumeSubset(
  front: number[],
  points: readonly number[][],
  count: number,
  mins: readonly { direction: 'min' }[],
): number[] {
  const reference = referencePoint(front.map((i) => points[i] as number[]));
  const picked: number[] = [];
  const left = [...front];
  while (picked.length < count && left.length > 0) {
    const base = picked.map((i) => points[i] as number[]);
    let best = 0;
    let bestGain = Number.NEGATIVE_INFINITY;
    left.forEach((i, j) => {
      const gain = hypervolume([...base, points[i] as number[]], reference, mins);
      if (gain > bestGain) {
        bestGain = gain;
        best = j;
      }
    });
    picked.push(...left.splice(best, 1));
  }
  return picked;
}

/** Each point's exclusive hypervolume (plus a tiny floor, so no kernel weighs 0). */
function hypervolumeContributions(points: readonly number[][], mins: readonly { direction: 'min' }[]): number[] {
  if (points.length <= 1) return points.map(() => 1);
  const reference = referencePoint(points);
  const all = hypervolume(points, reference, mins);
  return points.map(
    (_, i) =>
      all -
      hypervolume(
        points.filter((__, j) => j !== i),
        reference,
        mins,
      ) +
      1e-12,
  );
}

/**
 * The TPE proposal for the next trial, or undefined while fewer than `numStartupTrials` trials have
 * finished or when every candidate was tried already (the caller then draws at random). Shared by
 * the TPE oracle and BayesianOptimization's hand-over past its GP budget. `directions`: one per
 * objective (several: MOTPE on the trials' `values`).
 */
export function suggestTpe(
  ctx: OracleContext,
  directions: readonly Direction[],
  settings: TPESettings,
  random: Random,
): HpValues | undefined {
  const parts = split(ctx.trials, directions, settings);
  if (!parts) return undefined;
  const { finished, below } = parts;
  const modelled = new Set(finished);
  if (settings.constantLiar) for (const t of ctx.trials) if (t.status === 'RUNNING') modelled.add(t);
  // Both sets keep the study's (chronological) order: the kernel weights favour recent trials.
  const considered = ctx.trials.filter((t) => modelled.has(t));
  const good = considered.filter((t) => below.has(t));
  const bad = considered.filter((t) => !below.has(t));

  const space = ctx.hyperparameters;
  const encodings = space.space.flatMap((h, i) => encodingOf(h, i) ?? []);
  const groups = settings.multivariate ? groupsByPresence(encodings, considered) : encodings.map((e) => [e]);
  const options = {
    priorWeight: settings.priorWeight,
    considerMagicClip: settings.considerMagicClip,
    considerEndpoints: settings.considerEndpoints,
    multivariate: settings.multivariate,
    weights: settings.weights,
  };
  const rowsOf = (trials: Trial[], group: Encoding[]): { rows: number[][]; trials: Trial[] } => {
    const rows: number[][] = [];
    const kept: Trial[] = [];
    for (const t of trials) {
      const row: number[] = [];
      for (const e of group) {
        const v = activeValue(t, e.hp);
        if (v === undefined) break;
        row.push(e.encode(v));
      }
      if (row.length === group.length) {
        rows.push(row);
        kept.push(t);
      }
    }
    return { rows, trials: kept };
  };

  // Per group: candidates from l(x), best log l - log g first.
  const ranking = groups.map((group) => {
    const dims = group.map((e) => e.dimension);
    const goodRows = rowsOf(good, group);
    const { weights } = parts;
    const l = new ParzenEstimator(
      dims,
      goodRows.rows,
      weights ? { ...options, weights: () => goodRows.trials.map((t) => weights.get(t) ?? 1) } : options,
    );
    const g = new ParzenEstimator(dims, rowsOf(bad, group).rows, options);
    const candidates = l.sample(random, settings.numEiCandidates);
    const ll = l.logPdf(candidates);
    const lg = g.logPdf(candidates);
    return candidates
      .map((x, i) => ({ x, score: (ll[i] as number) - (lg[i] as number) }))
      .sort((a, b) => b.score - a.score)
      .map((c) => c.x);
  });

  const tried = new Set(ctx.trials.map((t) => valuesHash(t.hyperparameters.values)));
  for (let k = 0; k < settings.numEiCandidates; k++) {
    const chosen = new Map<number, HpValue>();
    groups.forEach((group, gi) => {
      const x = ranking[gi]?.[k] as number[];
      group.forEach((e, j) => {
        chosen.set(e.index, e.decode(x[j] as number));
      });
    });
    const values = resolve(space, chosen);
    if (!tried.has(valuesHash(values))) return values;
  }
  return undefined;
}

/** The values a trial gets: active hyperparameters only, in space order (parents decide their children). */
function resolve(space: HyperParameters, chosen: Map<number, HpValue>): HpValues {
  const hp = space.copy();
  hp.values = {};
  hp.space.forEach((h, i) => {
    if (hp.isActive(h)) hp.values[h.name] = h.kind === 'Fixed' ? h.default : (chosen.get(i) ?? h.default);
  });
  hp.ensureActiveValues();
  return hp.values;
}

export class TPEOracle extends Oracle {
  readonly settings: TPESettings;

  constructor(options: TPEOracleOptions = {}) {
    super({ ...options, maxTrials: options.maxTrials === undefined ? 10 : options.maxTrials });
    const budget = this.maxTrials === null ? 10 : Math.max(1, Math.floor(this.maxTrials / 2));
    this.settings = tpeSettings({ ...options, numStartupTrials: options.numStartupTrials ?? Math.min(10, budget) });
  }

  protected populateSpace(_trialId: string, ctx: OracleContext): PopulateResult {
    const random = createRandom(Math.floor(ctx.random() * 2 ** 32));
    const directions = (paretoObjectives(this.objective) ?? [this.objective]).map((o) => o.direction);
    const values = suggestTpe(ctx, directions, this.settings, random);
    if (values) return { status: 'RUNNING', values, userData: { proposedBy: 'tpe' } };
    const started = ctx.trials.filter((t) => t.status === 'COMPLETED' || t.status === 'PRUNED').length;
    const drawn = this.randomValues(ctx);
    if (!drawn) return { status: 'STOPPED' };
    const proposedBy = started < this.settings.numStartupTrials ? 'random' : 'random-fallback';
    return { status: 'RUNNING', values: drawn, userData: { proposedBy } };
  }
}

/** TPE search (default maxTrials 10, the first 5 of them random). */
export class TPE extends Tuner {
  constructor(hypermodel: HyperModel | BuildFn | null, options: TunerOptions & TPEOptions = {}) {
    super(hypermodel, { ...options, oracle: new TPEOracle(options) });
  }
}
