/**
 * NSGA-II (Deb et al. 2002), the evolutionary search for a Pareto front of several objectives
 * (Optuna's NSGAIISampler plays the same part). It also runs with one objective, as a plain
 * genetic algorithm.
 *
 * Trials carry their generation in `userData.generation`; every decision is recomputed from the
 * stored trials, so any number of workers can share a study:
 * - generation 0 is random (trials without a generation, e.g. enqueued ones, count as generation 0);
 * - a generation is complete once `populationSize` of its trials COMPLETED; the parent population
 *   of the next one is the elite of the previous parents plus that generation: non-dominated
 *   sorting, then crowding distance within the last front that fits;
 * - each child: two parents by binary tournament (lower front first, then larger crowding distance),
 *   crossover with probability `crossoverProb` (SBX on numeric hyperparameters in the unit cube they
 *   map to, uniform swap on categorical ones), then each hyperparameter mutates with probability
 *   `mutationProb` (polynomial mutation for numeric ones, a fresh random value for categorical ones).
 *   Trials still RUNNING simply belong to the generation being filled, so parallel workers add
 *   children of the same parents instead of waiting.
 * Conditional hyperparameters: a gene inactive in one parent comes from the other, inactive in both
 * it is drawn at random; decoding keeps only what the child's values make active.
 */
import { Oracle, type OracleContext, type OracleOptions, type PopulateResult } from '../engine/oracle.js';
import { Tuner, type TunerOptions } from '../engine/tuner.js';
import { valuesHash } from '../hash.js';
import type { BuildFn, HyperModel } from '../hypermodel.js';
import {
  Choice,
  Float,
  type HpValue,
  type HyperParameter,
  type HyperParameters,
  Int,
} from '../hyperparameters/index.js';
import { paretoObjectives } from '../objective.js';
import { crowdingDistances, nonDominatedRanks } from '../pareto.js';
import type { Trial } from '../trial.js';
import { decode } from './bayesian.js';

export interface NSGA2Options {
  /**
   * Individuals per generation. Default: maxTrials / 10 within [8, 50] (50 without maxTrials), so a
   * search of 100 trials runs 10 generations instead of Optuna's 2 of 50: with tuning budgets,
   * more generations reached larger hypervolumes in bench:tuner.
   */
  populationSize?: number;
  /** Probability that a child is a crossover of two parents rather than a copy of one. Default 0.9. */
  crossoverProb?: number;
  /** Per-hyperparameter mutation probability. Default 1 / number of tunable hyperparameters. */
  mutationProb?: number;
  /** SBX distribution index: larger keeps children nearer their parents. Default 15. */
  crossoverEta?: number;
  /** Polynomial mutation distribution index: smaller takes larger steps. Default 5 (bolder than the usual 20, which did worse at 100 evaluations). */
  mutationEta?: number;
}

export type NSGA2OracleOptions = OracleOptions & NSGA2Options;

/** userData key of a trial's generation. */
export const GENERATION = 'generation';
const MAX_ATTEMPTS = 20;

interface Individual {
  trial: Trial;
  values: number[];
  rank: number;
  crowding: number;
}

export class NSGA2Oracle extends Oracle {
  readonly populationSize: number;
  readonly crossoverProb: number;
  readonly mutationProb: number | undefined;
  readonly crossoverEta: number;
  readonly mutationEta: number;

  constructor(options: NSGA2OracleOptions = {}) {
    super({ ...options, maxTrials: options.maxTrials === undefined ? 100 : options.maxTrials });
    const budget = this.maxTrials;
    this.populationSize =
      options.populationSize ?? (budget === null ? 50 : Math.min(50, Math.max(8, Math.round(budget / 10))));
    if (!Number.isInteger(this.populationSize) || this.populationSize < 2) {
      throw new RangeError(`populationSize must be an integer >= 2, got ${options.populationSize}.`);
    }
    this.crossoverProb = probability('crossoverProb', options.crossoverProb ?? 0.9);
    this.mutationProb =
      options.mutationProb === undefined ? undefined : probability('mutationProb', options.mutationProb);
    this.crossoverEta = positive('crossoverEta', options.crossoverEta ?? 15);
    this.mutationEta = positive('mutationEta', options.mutationEta ?? 5);
  }

  protected populateSpace(_trialId: string, ctx: OracleContext): PopulateResult {
    const { generation, parents } = this.parentPopulation(ctx.trials);
    if (parents.length < 2) return this.random(ctx, 0);
    const tunable = ctx.hyperparameters.space.filter((h) => h.kind !== 'Fixed');
    if (tunable.length === 0) return this.random(ctx, generation + 1);
    const tried = new Set(ctx.trials.map((t) => valuesHash(t.hyperparameters.values)));
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const child = this.makeChild(parents, tunable, ctx.random);
      const genes = child.map((g) => g ?? ctx.random());
      const values = decode(ctx.hyperparameters, tunable, genes);
      if (!tried.has(valuesHash(values))) {
        return { status: 'RUNNING', values, userData: { [GENERATION]: generation + 1 } };
      }
    }
    // Children keep colliding (a small finite space): fall back to an untried random draw.
    return this.random(ctx, generation + 1);
  }

  /**
   * The last complete generation and its parent population (elite of the previous parents plus
   * that generation's COMPLETED trials); generation -1 and no parents while generation 0 fills.
   */
  parentPopulation(trials: readonly Trial[]): { generation: number; parents: Individual[] } {
    const objectives = paretoObjectives(this.objective) ?? [this.objective];
    const byGeneration = new Map<number, Trial[]>();
    for (const t of trials) {
      const values = t.values ?? (t.score === null ? null : [t.score]);
      if (t.status !== 'COMPLETED' || !values || !values.every(Number.isFinite)) continue;
      const g = Number(t.userData[GENERATION] ?? 0);
      byGeneration.set(g, [...(byGeneration.get(g) ?? []), t]);
    }
    let parents: Individual[] = [];
    let generation = -1;
    for (;;) {
      const members = byGeneration.get(generation + 1) ?? [];
      if (members.length < this.populationSize) break;
      const pool = [...parents.map((p) => p.trial), ...members];
      parents = selectElite(pool, objectives, this.populationSize);
      generation += 1;
    }
    return { generation, parents };
  }

  /** One child's genes (unit-cube positions; undefined where neither parent has the hyperparameter active). */
  private makeChild(parents: Individual[], tunable: HyperParameter[], random: () => number): (number | undefined)[] {
    const first = tournament(parents, random);
    const a = genesOf(first.trial.hyperparameters, tunable);
    let child = a;
    if (random() < this.crossoverProb) {
      const rest = parents.filter((p) => p !== first);
      const b = genesOf(tournament(rest, random).trial.hyperparameters, tunable);
      child = tunable.map((h, i) => {
        const x = a[i];
        const y = b[i];
        if (x === undefined) return y;
        if (y === undefined) return x;
        if (!numeric(h)) return random() < 0.5 ? x : y;
        // As in Deb's SBX, each variable crosses with probability 1/2 and is inherited otherwise.
        return random() < 0.5 ? sbx(x, y, this.crossoverEta, random) : x;
      });
    }
    const rate = this.mutationProb ?? 1 / tunable.length;
    return child.map((g, i) => {
      if (g === undefined || random() >= rate) return g;
      return numeric(tunable[i] as HyperParameter) ? polynomialMutation(g, this.mutationEta, random) : random();
    });
  }

  private random(ctx: OracleContext, generation: number): PopulateResult {
    const values = this.randomValues(ctx);
    return values ? { status: 'RUNNING', values, userData: { [GENERATION]: generation } } : { status: 'STOPPED' };
  }
}

/** Numeric hyperparameters vary continuously in the unit cube (SBX, polynomial mutation); the others are categories. */
function numeric(h: HyperParameter): boolean {
  return h instanceof Int || h instanceof Float || (h instanceof Choice && h.ordered);
}

/** A trial's position in the unit cube, undefined for hyperparameters it does not have active. */
function genesOf(hp: HyperParameters, tunable: HyperParameter[]): (number | undefined)[] {
  return tunable.map((h) => {
    const v = hp.values[h.name];
    if (v === undefined || !hp.isActive(h) || !h.accepts(v as HpValue)) return undefined;
    const p = h.valueToProb(v as HpValue);
    return Number.isFinite(p) ? Math.min(1, Math.max(0, p)) : undefined;
  });
}

/** The `size` best of `pool` by (front, crowding distance), each with its rank and crowding among the pool. */
function selectElite(pool: Trial[], objectives: readonly { direction: 'min' | 'max' }[], size: number): Individual[] {
  const valuesOf = (t: Trial) => t.values ?? [t.score as number];
  const ranks = nonDominatedRanks(pool.map(valuesOf), objectives);
  const elite: Individual[] = [];
  for (let rank = 0; elite.length < size; rank++) {
    const front = pool.filter((_, i) => ranks[i] === rank);
    if (front.length === 0) break;
    const crowding = crowdingDistances(front.map(valuesOf));
    const members = front.map((trial, i) => ({
      trial,
      values: valuesOf(trial),
      rank,
      crowding: crowding[i] as number,
    }));
    // Within the front that overflows, the least crowded go first (stable: earlier trials on ties).
    members.sort((a, b) => b.crowding - a.crowding);
    elite.push(...members.slice(0, size - elite.length));
  }
  return elite;
}

/** Binary tournament: the lower front wins, then the larger crowding distance, else a coin flip. */
function tournament(population: Individual[], random: () => number): Individual {
  const pick = () =>
    population[Math.min(population.length - 1, Math.floor(random() * population.length))] as Individual;
  const a = pick();
  const b = pick();
  if (a.rank !== b.rank) return a.rank < b.rank ? a : b;
  if (a.crowding !== b.crowding) return a.crowding > b.crowding ? a : b;
  return random() < 0.5 ? a : b;
}

/** Simulated binary crossover on [0, 1] (bounded form); returns one of the two children at random. */
export function sbx(x: number, y: number, eta: number, random: () => number): number {
  if (Math.abs(x - y) < 1e-14) return x;
  const lo = Math.min(x, y);
  const hi = Math.max(x, y);
  const u = random();
  const spread = (beta: number) => {
    const alpha = 2 - beta ** -(eta + 1);
    return u <= 1 / alpha ? (u * alpha) ** (1 / (eta + 1)) : (1 / (2 - u * alpha)) ** (1 / (eta + 1));
  };
  const c1 = 0.5 * (lo + hi - spread(1 + (2 * lo) / (hi - lo)) * (hi - lo));
  const c2 = 0.5 * (lo + hi + spread(1 + (2 * (1 - hi)) / (hi - lo)) * (hi - lo));
  return clamp01(random() < 0.5 ? c1 : c2);
}

/** Polynomial mutation on [0, 1] (bounded form). */
export function polynomialMutation(x: number, eta: number, random: () => number): number {
  const u = random();
  const power = 1 / (eta + 1);
  let delta: number;
  if (u < 0.5) {
    const v = 2 * u + (1 - 2 * u) * (1 - x) ** (eta + 1);
    delta = v ** power - 1;
  } else {
    const v = 2 * (1 - u) + 2 * (u - 0.5) * x ** (eta + 1);
    delta = 1 - v ** power;
  }
  return clamp01(x + delta);
}

function clamp01(v: number): number {
  return Math.min(1 - 1e-12, Math.max(0, v));
}

function probability(name: string, v: number): number {
  if (!(Number.isFinite(v) && v >= 0 && v <= 1)) throw new RangeError(`${name} must be in [0, 1], got ${v}.`);
  return v;
}

function positive(name: string, v: number): number {
  if (!(Number.isFinite(v) && v > 0)) throw new RangeError(`${name} must be a positive number, got ${v}.`);
  return v;
}

/** NSGA-II tuner (default maxTrials 100). */
export class NSGA2 extends Tuner {
  constructor(hypermodel: HyperModel | BuildFn | null, options: TunerOptions & NSGA2Options = {}) {
    super(hypermodel, { ...options, oracle: new NSGA2Oracle(options) });
  }
}
