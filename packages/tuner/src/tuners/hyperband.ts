/**
 * Hyperband (Li et al.) with Keras Tuner's bracket math and promotion rule.
 *
 * Brackets run from the most aggressive (B-1) down to 0, `hyperbandIterations` times. Bracket b has
 * b+1 rounds; round r holds size(b, r) = ceil(ceil(1 + log_factor(maxEpochs)) / (b+1) * factor^(b-r))
 * trials trained to epochs(b, r) = ceil(maxEpochs / factor^(b-r)) epochs. Round 0 is random; once more
 * trials of round r-1 have finished than the round throws away (size(b,r-1) - size(b,r)), the best
 * unpromoted one is promoted: same values, and in the trial's userData (`hyperbandTrial(trial)`) its
 * parent, epochs, initialEpoch = epochs(b, r-1), bracket and round. The Hyperband tuner's hooks then
 * load the parent's best checkpoint and train only the remaining epochs, instead of retraining.
 *
 * The bracket bookkeeping lives in the study's oracle state, so it survives restarts and is shared by
 * every worker of the study. A trial's values hold only real hyperparameters.
 */
import { Oracle, type OracleContext, type OracleOptions, type PopulateResult } from '../engine/oracle.js';
import { type SearchFitArgs, type TrialEpochs, Tuner, type TunerOptions } from '../engine/tuner.js';
import type { BuildFn, HyperModel } from '../hypermodel.js';
import { paretoObjectives } from '../objective.js';
import { crowdingDistances, nonDominatedRanks } from '../pareto.js';
import type { Trial } from '../trial.js';

export interface HyperbandOptions {
  /** Epochs of the longest-trained trials (default 100). */
  maxEpochs?: number;
  /** Reduction factor between rounds, an integer >= 2 (default 3). */
  factor?: number;
  /** How many times to run the whole set of brackets (default 1). */
  hyperbandIterations?: number;
}

export type HyperbandOracleOptions = OracleOptions & HyperbandOptions;

/** A Hyperband trial's place in the schedule, kept in `trial.userData.hyperband`. */
export interface HyperbandTrialInfo {
  bracket: number;
  round: number;
  /** Train up to this epoch (exclusive)... */
  epochs: number;
  /** ...starting at this one (the parent's epochs for a promoted trial, else 0). */
  initialEpoch: number;
  /** The promoted trial's parent, whose best weights it starts from. */
  parentId?: string;
}

/** The schedule of a trial run by Hyperband (undefined for other trials). */
export function hyperbandTrial(trial: Pick<Trial, 'userData'>): HyperbandTrialInfo | undefined {
  const info = trial.userData.hyperband as HyperbandTrialInfo | undefined;
  return info && typeof info.epochs === 'number' ? info : undefined;
}

export interface HyperbandRound {
  trials: number;
  epochs: number;
}

interface RoundEntry {
  /** The promoted parent's trial id; null in round 0. */
  pastId: string | null;
  id: string;
}

interface BracketState {
  bracket: number;
  rounds: RoundEntry[][];
}

interface HyperbandState {
  currentBracket: number;
  currentIteration: number;
  brackets: BracketState[];
}

const MIN_EPOCHS = 1;

/** Number of brackets: how often maxEpochs can be divided by factor while staying >= 1. */
export function hyperbandBracketCount(maxEpochs: number, factor: number): number {
  let epochs = maxEpochs;
  let brackets = 0;
  while (epochs >= MIN_EPOCHS) {
    epochs /= factor;
    brackets++;
  }
  return brackets;
}

function roundSize(maxEpochs: number, factor: number, bracket: number, round: number): number {
  // The epsilon keeps log_3(9) from landing a hair above 2.
  const lastRoundSize = Math.ceil(1 + Math.log(maxEpochs) / Math.log(factor) - 1e-12);
  return Math.ceil((lastRoundSize / (bracket + 1)) * factor ** (bracket - round) - 1e-9);
}

function roundEpochs(maxEpochs: number, factor: number, bracket: number, round: number): number {
  return Math.ceil(maxEpochs / factor ** (bracket - round) - 1e-9);
}

/** The schedule of one Hyperband iteration: brackets in run order (most aggressive first), each with its rounds. */
export function hyperbandSchedule(maxEpochs: number, factor: number): { bracket: number; rounds: HyperbandRound[] }[] {
  const count = hyperbandBracketCount(maxEpochs, factor);
  return Array.from({ length: count }, (_, i) => {
    const bracket = count - 1 - i;
    return {
      bracket,
      rounds: Array.from({ length: bracket + 1 }, (_, round) => ({
        trials: roundSize(maxEpochs, factor, bracket, round),
        epochs: roundEpochs(maxEpochs, factor, bracket, round),
      })),
    };
  });
}

export class HyperbandOracle extends Oracle {
  readonly maxEpochs: number;
  readonly factor: number;
  readonly hyperbandIterations: number;

  constructor(options: HyperbandOracleOptions = {}) {
    super({ ...options, maxTrials: options.maxTrials ?? null });
    const { maxEpochs = 100, factor = 3, hyperbandIterations = 1 } = options;
    if (!Number.isInteger(maxEpochs) || maxEpochs < 1) {
      throw new RangeError(`maxEpochs must be a positive integer, got ${maxEpochs}.`);
    }
    if (!Number.isInteger(factor) || factor < 2) throw new RangeError(`factor must be an integer >= 2, got ${factor}.`);
    if (!Number.isInteger(hyperbandIterations) || hyperbandIterations < 1) {
      throw new RangeError(`hyperbandIterations must be a positive integer, got ${hyperbandIterations}.`);
    }
    this.maxEpochs = maxEpochs;
    this.factor = factor;
    this.hyperbandIterations = hyperbandIterations;
  }

  private size(bracket: number, round: number): number {
    return roundSize(this.maxEpochs, this.factor, bracket, round);
  }

  private epochs(bracket: number, round: number): number {
    return roundEpochs(this.maxEpochs, this.factor, bracket, round);
  }

  private state(ctx: OracleContext): HyperbandState {
    let state = ctx.state.hyperband as HyperbandState | undefined;
    if (!state) {
      const top = hyperbandBracketCount(this.maxEpochs, this.factor) - 1;
      state = { currentBracket: top, currentIteration: 0, brackets: [newBracket(top)] };
      ctx.state.hyperband = state;
    }
    return state;
  }

  protected populateSpace(trialId: string, ctx: OracleContext): PopulateResult {
    const state = this.state(ctx);
    // A bracket is done once all trials of its last round have been handed out.
    state.brackets = state.brackets.filter((b) => {
      const last = b.rounds.length - 1;
      return (b.rounds[last]?.length ?? 0) < this.size(b.bracket, last);
    });
    const byId = new Map(ctx.trials.map((t) => [t.trialId, t]));
    for (const b of state.brackets) {
      const first = b.rounds[0] as RoundEntry[];
      if (first.length < this.size(b.bracket, 0)) return this.randomTrial(trialId, b, ctx);
      for (let r = 1; r < b.rounds.length; r++) {
        const promoted = this.promote(trialId, b, r, byId);
        if (promoted) return promoted;
      }
    }
    const running = ctx.trials.some((t) => t.status === 'RUNNING');
    if (state.currentBracket === 0 && state.currentIteration + 1 >= this.hyperbandIterations) {
      // No new brackets; running trials may still unlock promotions.
      return running ? { status: 'IDLE' } : { status: 'STOPPED' };
    }
    state.currentBracket--;
    if (state.currentBracket < 0) {
      state.currentBracket = hyperbandBracketCount(this.maxEpochs, this.factor) - 1;
      state.currentIteration++;
    }
    const bracket = newBracket(state.currentBracket);
    state.brackets.push(bracket);
    return this.randomTrial(trialId, bracket, ctx);
  }

  /** Trials of open brackets that a later round may still promote (a promoted trial starts from their checkpoint). */
  async promotable(): Promise<Set<string>> {
    const state = (await this.recordedState()).hyperband as HyperbandState | undefined;
    const ids = new Set<string>();
    for (const b of state?.brackets ?? []) {
      const last = b.rounds.length - 1;
      if ((b.rounds[last]?.length ?? 0) >= this.size(b.bracket, last)) continue; // closed: nothing left to promote
      for (const round of b.rounds.slice(0, last)) for (const e of round) ids.add(e.id);
    }
    return ids;
  }

  /** Promotes the best finished, not yet promoted trial of round r-1 into round r, if the rule allows. */
  private promote(trialId: string, b: BracketState, r: number, byId: Map<string, Trial>): PopulateResult | undefined {
    const round = b.rounds[r] as RoundEntry[];
    const past = b.rounds[r - 1] as RoundEntry[];
    const size = this.size(b.bracket, r);
    if (round.length >= size) return undefined;
    const selected = new Set(round.map((e) => e.pastId));
    const finished = past
      .filter((e) => !selected.has(e.id))
      .map((e) => byId.get(e.id))
      .filter((t): t is Trial => t !== undefined && ['COMPLETED', 'PRUNED', 'FAILED'].includes(t.status));
    const completed = finished.filter((t) => t.status === 'COMPLETED' && t.score !== null);
    if (finished.length <= this.size(b.bracket, r - 1) - size || completed.length === 0) return undefined;
    const best = this.promotionOf(completed);
    round.push({ pastId: best.trialId, id: trialId });
    const hyperband: HyperbandTrialInfo = {
      bracket: b.bracket,
      round: r,
      epochs: this.epochs(b.bracket, r),
      initialEpoch: this.epochs(b.bracket, r - 1),
      parentId: best.trialId,
    };
    return { status: 'RUNNING', values: { ...best.hyperparameters.values }, userData: { hyperband } };
  }

  /**
   * The trial to promote: the best score, or with several objectives the first non-dominated trial
   * that is least crowded (NSGA-II's order), so promotions spread along the front.
   */
  private promotionOf(completed: Trial[]): Trial {
    const objectives = paretoObjectives(this.objective);
    const ranked = completed.filter((t) => t.values);
    if (objectives && ranked.length > 0) {
      const ranks = nonDominatedRanks(
        ranked.map((t) => t.values as number[]),
        objectives,
      );
      const front = ranked.filter((_, i) => ranks[i] === 0);
      const crowding = crowdingDistances(front.map((t) => t.values as number[]));
      return front[crowding.indexOf(Math.max(...crowding))] as Trial;
    }
    const sign = this.objective.direction === 'max' ? -1 : 1;
    return completed.reduce((a, t) => (sign * (t.score as number) < sign * (a.score as number) ? t : a));
  }

  private randomTrial(trialId: string, b: BracketState, ctx: OracleContext): PopulateResult {
    const values = this.randomValues(ctx);
    if (!values) {
      // The space is exhausted; running trials may still be promoted.
      return ctx.trials.some((t) => t.status === 'RUNNING') ? { status: 'IDLE' } : { status: 'STOPPED' };
    }
    (b.rounds[0] as RoundEntry[]).push({ pastId: null, id: trialId });
    const hyperband: HyperbandTrialInfo = {
      bracket: b.bracket,
      round: 0,
      epochs: this.epochs(b.bracket, 0),
      initialEpoch: 0,
    };
    return { status: 'RUNNING', values, userData: { hyperband } };
  }
}

function newBracket(bracket: number): BracketState {
  return { bracket, rounds: Array.from({ length: bracket + 1 }, () => []) };
}

/**
 * Keras Tuner's Hyperband tuner. Each trial trains for its scheduled epochs (any `epochs` given to
 * search() is ignored), and a promoted trial starts from its parent's best checkpoint at the
 * parent's last epoch. A runTrial override reads the schedule with `hyperbandTrial(trial)`.
 */
export class Hyperband extends Tuner {
  constructor(hypermodel: HyperModel | BuildFn | null, options: TunerOptions & HyperbandOptions = {}) {
    super(hypermodel, { ...options, oracle: new HyperbandOracle(options) });
  }

  protected override trialEpochs(trial: Trial, fitArgs: SearchFitArgs): TrialEpochs {
    const info = hyperbandTrial(trial);
    return info ? { epochs: info.epochs, initialEpoch: info.initialEpoch } : super.trialEpochs(trial, fitArgs);
  }

  protected override parentTrialId(trial: Trial): string | undefined {
    return hyperbandTrial(trial)?.parentId;
  }

  protected override async checkpointsInUse(trials: readonly Trial[]): Promise<Set<string>> {
    const inUse = await super.checkpointsInUse(trials);
    for (const id of await (this.oracle as HyperbandOracle).promotable()) inUse.add(id);
    return inUse;
  }
}
