/**
 * Oracle base: hands out trials and records their results through the study storage. It is the
 * Tuner's only way to the storage, and it opens the study lazily on first use (any read or write),
 * so `tuner.oracle.getBestTrials()` works right after constructing a tuner on an existing study.
 *
 * How a subclass plugs in: extend `Oracle` and implement `populateSpace(trialId, ctx)`, returning
 * `{ status: 'RUNNING', values }` for a new trial, `{ status: 'IDLE' }` when it must wait for running
 * trials, or `{ status: 'STOPPED' }` when the search is over. `ctx` is read from storage inside the
 * study lock: `ctx.trials` are ALL trials of the study (any process, including RUNNING ones and
 * their values/score/status), `ctx.hyperparameters` is the search space (values empty),
 * `ctx.random()` is the persisted seeded stream, and `ctx.state` is this oracle's persisted JSON
 * state (mutate it; it is saved with the trial). Never keep decisions in process memory only: several
 * processes may share one study. Helpers: `this.randomValues(ctx)` (Keras Tuner's collision-free
 * random draw, null when exhausted), `this.objective`, `this.maxTrials`, `valuesHash(values)`.
 * Per-trial bookkeeping that is not a hyperparameter (Hyperband's bracket, epochs and parent) goes
 * in the result's `userData`, which the matching Tuner reads through its hooks.
 * Optional hook: `onTrialEnd(trial, ctx)`, called inside the lock when a trial finishes.
 */
import path from 'node:path';
import { paretoFront, rankTrials } from '@tuneserve/client';
import { HyperParameterError, StorageError, TrialLostError } from '../errors.js';
import { valuesHash } from '../hash.js';
import { Fixed, type HpValue, HyperParameters } from '../hyperparameters/index.js';
import {
  type Objective,
  type ObjectiveInput,
  objectiveFromSpec,
  paretoObjectives,
  scoreOf,
  toObjective,
} from '../objective.js';
import type { Pruner } from '../pruners.js';
import { randomSeed, seededUniform } from '../random.js';
import { openStorage } from '../storage/registry.js';
import type { EpochMetric, StudyRecord, StudyStorage, StudyStore, TrialRecord } from '../storage/types.js';
import type { HpValues, Trial, TrialStatus } from '../trial.js';
import { intermediateValues } from './metrics.js';

export interface OracleOptions {
  objective?: ObjectiveInput;
  /** null/undefined: no limit (GridSearch runs until the space is exhausted). */
  maxTrials?: number | null;
  /** A pre-declared search space. */
  hyperparameters?: HyperParameters;
  allowNewEntries?: boolean;
  tuneNewEntries?: boolean;
  seed?: number;
  maxRetriesPerTrial?: number;
  maxConsecutiveFailedTrials?: number;
  pruner?: Pruner;
  /** A RUNNING trial whose owner has not sent a heartbeat for this long is taken over (default 60 s). */
  heartbeatTimeoutMs?: number;
}

export interface OracleContext {
  trials: Trial[];
  hyperparameters: HyperParameters;
  state: Record<string, unknown>;
  random(): number;
}

export type PopulateResult =
  | { status: 'RUNNING'; values: HpValues; userData?: Record<string, unknown> }
  | { status: 'IDLE' }
  | { status: 'STOPPED' };

export interface EndTrialInput {
  status: 'COMPLETED' | 'PRUNED' | 'INVALID' | 'FAILED';
  metrics?: Record<string, number>;
  bestStep?: number | null;
  message?: string | null;
  /** The worker ending the trial: when given, the result is only accepted while it still owns the RUNNING trial. */
  ownerId?: string;
  /**
   * The trial's hyperparameters after it ran. What build, fit or runTrial declared on first use
   * joins the study's space, and the values it got are stored with the trial.
   */
  hyperparameters?: HyperParameters;
}

/** Where a Tuner's study lives (see Oracle.configure). */
export interface StudyLocation {
  /** Storage URL; undefined means 'sqlite:' under <directory>/<projectName>. */
  storage: string | undefined;
  directory: string;
  projectName: string;
  overwrite: boolean;
  /** The tuner class name recorded with a new study. */
  tunerName: string;
}

const MAX_COLLISIONS = 20;
/** userData keys: the trial's metric rows when its current attempt began; its runs lost without progress. */
const PROGRESS_MARK = 'metricRowsAtClaim';
/** oracleState key of the enqueued configurations. */
const QUEUE = 'enqueued';
const DEATHS = 'lostRuns';

export abstract class Oracle {
  readonly objective: Objective;
  readonly maxTrials: number | null;
  readonly allowNewEntries: boolean;
  readonly tuneNewEntries: boolean;
  readonly maxRetriesPerTrial: number;
  readonly maxConsecutiveFailedTrials: number;
  readonly pruner: Pruner | undefined;
  readonly heartbeatTimeoutMs: number;
  /** The search space known so far (values empty). */
  hyperparameters: HyperParameters;
  seed: number;
  private location: StudyLocation | undefined;
  private opening: Promise<StudyStorage> | undefined;

  constructor(options: OracleOptions = {}) {
    this.objective = toObjective(options.objective);
    if (options.maxTrials !== undefined && options.maxTrials !== null) {
      if (!Number.isInteger(options.maxTrials) || options.maxTrials < 1) {
        throw new RangeError(`maxTrials must be a positive integer, got ${options.maxTrials}.`);
      }
    }
    this.maxTrials = options.maxTrials ?? null;
    this.allowNewEntries = options.allowNewEntries ?? true;
    this.tuneNewEntries = options.tuneNewEntries ?? true;
    this.maxRetriesPerTrial = nonNegativeInt('maxRetriesPerTrial', options.maxRetriesPerTrial ?? 0);
    this.maxConsecutiveFailedTrials = nonNegativeInt(
      'maxConsecutiveFailedTrials',
      options.maxConsecutiveFailedTrials ?? 3,
    );
    this.pruner = options.pruner;
    this.heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 60_000;
    this.hyperparameters = options.hyperparameters ? options.hyperparameters.copy() : new HyperParameters();
    this.hyperparameters.values = {};
    this.seed = options.seed ?? randomSeed();
  }

  /** Decide the values of a new trial (see the file comment). */
  protected abstract populateSpace(trialId: string, ctx: OracleContext): PopulateResult | Promise<PopulateResult>;

  /** Called inside the study lock when a trial reaches a final state. */
  protected onTrialEnd(_trial: Trial, _ctx: OracleContext): void | Promise<void> {}

  /** Says where the study lives; nothing is opened until the first read or write (or `open()`). */
  configure(location: StudyLocation): void {
    if (this.opening) throw new StorageError('The oracle is already connected to a study.');
    this.location = location;
  }

  /**
   * Opens the study once (creating it, or adopting the stored one and checking its objective);
   * every other method calls it, so opening explicitly is optional. A failed open is retried next time.
   */
  async open(): Promise<StudyStorage> {
    if (!this.opening) {
      const location = this.location;
      if (!location) throw new StorageError('The oracle has no study: construct it through a Tuner or call attach().');
      this.opening = (async () => {
        const storage = await openStorage(location.storage, {
          directory: location.directory,
          projectName: location.projectName,
          overwrite: location.overwrite,
        });
        try {
          await this.adopt(storage, location.tunerName);
        } catch (err) {
          await storage.close();
          throw err;
        }
        return storage;
      })();
      this.opening.catch(() => {
        this.opening = undefined;
      });
    }
    return this.opening;
  }

  /** Connects the oracle to an already open storage (the caller keeps ownership of it). */
  async attach(storage: StudyStorage, tunerName: string): Promise<void> {
    await this.adopt(storage, tunerName);
    this.opening = Promise.resolve(storage);
  }

  /** Closes the study storage this oracle opened; a later call opens it again. */
  async close(): Promise<void> {
    const opening = this.opening;
    this.opening = undefined;
    if (!opening || !this.location) return;
    const storage = await opening.catch(() => undefined);
    await storage?.close();
  }

  /** Folder of a trial's checkpoints (under the storage's checkpoint root). */
  async trialDir(trialId: string): Promise<string> {
    return path.join((await this.open()).checkpointRoot, `trial_${trialId}`);
  }

  /** Records per-epoch metrics of a running trial. */
  async reportMetrics(rows: EpochMetric[]): Promise<void> {
    await (await this.open()).putMetrics(rows);
  }

  /** The per-epoch metrics of a trial (every execution). */
  async trialMetrics(trialId: string): Promise<EpochMetric[]> {
    return (await this.open()).listMetrics(trialId);
  }

  /** Drops a trial's per-epoch metrics, so a retry starts from scratch. */
  async discardMetrics(trialId: string): Promise<void> {
    await (await this.open()).deleteMetrics(trialId);
  }

  /** Creates the study record or adopts the stored one. */
  private async adopt(storage: StudyStorage, tunerName: string): Promise<void> {
    await storage.transaction(async (tx) => {
      const study = await tx.getStudy();
      if (!study) {
        await tx.putStudy({
          name: '',
          tuner: tunerName,
          objective: this.objective.toSpec(),
          maxTrials: this.maxTrials,
          space: this.hyperparameters.toConfig(),
          oracleState: { seed: this.seed, seedState: 0 },
          createdAt: Date.now(),
        });
        return;
      }
      const stored = objectiveFromSpec(study.objective);
      if (JSON.stringify(stored.toSpec()) !== JSON.stringify(this.objective.toSpec())) {
        throw new StorageError(
          `The study at ${storage.location} optimizes ${JSON.stringify(study.objective)}, not ` +
            `${JSON.stringify(this.objective.toSpec())}; use overwrite: true or another projectName.`,
        );
      }
      this.seed = Number(study.oracleState.seed ?? this.seed);
      const merged = HyperParameters.fromConfig(study.space);
      for (const hp of this.hyperparameters.space) merged.addToSpace(hp);
      merged.values = {};
      this.hyperparameters = merged;
      // maxTrials from the constructor wins, so a finished search can be extended.
      await tx.putStudy({ ...study, maxTrials: this.maxTrials, space: merged.toConfig() });
    });
  }

  /** Adds hyperparameters discovered while building a model to the stored space. */
  async updateSpace(hp: HyperParameters): Promise<void> {
    await (await this.open()).transaction(async (tx) => {
      const study = await requireStudy(tx);
      const { space, changed } = this.mergeSpace(study, hp);
      if (changed) await tx.putStudy({ ...study, space: space.toConfig() });
    });
  }

  /** The stored space plus what `hp` declared (Keras Tuner's update_space rules); sets this.hyperparameters. */
  private mergeSpace(study: StudyRecord, hp: HyperParameters): { space: HyperParameters; changed: boolean } {
    const space = HyperParameters.fromConfig(study.space);
    let changed = false;
    for (const h of hp.space) {
      const known = space.space.some(
        (s) => s.name === h.name && JSON.stringify(s.conditions) === JSON.stringify(h.conditions),
      );
      if (known) {
        space.addToSpace(h); // throws if redefined differently
        continue;
      }
      if (!this.allowNewEntries) {
        throw new HyperParameterError(
          `Hyperparameter '${h.name}' is not in the pre-declared search space and allowNewEntries is false.`,
        );
      }
      space.addToSpace(this.tuneNewEntries ? h : new Fixed(h.name, h.default, h.conditions));
      changed = true;
    }
    space.values = {};
    this.hyperparameters = space;
    return { space, changed };
  }

  /**
   * Returns the trial `tunerId` should run next: its own unfinished trial (resume), a stale trial of a
   * dead process, an INVALID trial to retry, or a new one. Status IDLE or STOPPED means no trial.
   */
  async createTrial(tunerId: string): Promise<Trial> {
    return (await this.open()).transaction(async (tx) => {
      let study = await requireStudy(tx);
      const records = await tx.listTrials();
      const space = HyperParameters.fromConfig(study.space);
      space.values = {};
      this.hyperparameters = space;
      const now = Date.now();
      const claim = async (rec: TrialRecord, retry: boolean): Promise<Trial> => {
        const next: TrialRecord = {
          ...rec,
          status: 'RUNNING',
          ownerId: tunerId,
          heartbeatAt: now,
          startedAt: retry || rec.startedAt === null ? now : rec.startedAt,
          endedAt: null,
          retries: rec.retries + (retry ? 1 : 0),
          // How far the trial had got when this attempt began (see reclaim).
          userData: { ...rec.userData, [PROGRESS_MARK]: (await tx.listMetrics(rec.trialId)).length },
        };
        await tx.putTrial(next);
        return this.toTrial(next, space);
      };
      /**
       * A RUNNING trial whose worker is gone: it restarted (same id) or stopped heartbeating. A run
       * that finished epochs since its worker claimed it was interrupted: it resumes where it stood.
       * A run that died without progress is forgiven once (a preemption, a Ctrl-C, a FatalError
       * abort); from the second such death on, each counts as a failed attempt (an out-of-memory
       * kill, an abort), and past maxRetriesPerTrial the trial ends FAILED instead of killing
       * worker after worker under a restart policy.
       */
      const reclaim = async (rec: TrialRecord): Promise<Trial | undefined> => {
        const progressed = (await tx.listMetrics(rec.trialId)).length > Number(rec.userData[PROGRESS_MARK] ?? 0);
        if (progressed) return claim(rec, false);
        const deaths = Number(rec.userData[DEATHS] ?? 0) + 1;
        const counted = { ...rec, userData: { ...rec.userData, [DEATHS]: deaths } };
        if (deaths === 1) return claim(counted, false);
        if (rec.retries < this.maxRetriesPerTrial) return claim(counted, true);
        const failed: TrialRecord = {
          ...counted,
          status: 'FAILED',
          ownerId: null,
          endedAt: now,
          message:
            `The worker running it died ${deaths} times without finishing an epoch (out of memory or ` +
            `killed?); maxRetriesPerTrial is ${this.maxRetriesPerTrial}.`,
        };
        await tx.putTrial(failed);
        records[records.indexOf(rec)] = failed;
        const state = { ...study.oracleState };
        await this.onTrialEnd(this.toTrial(failed, space), this.context(records, space, state));
        study = { ...study, oracleState: state };
        await tx.putStudy(study);
        return undefined;
      };
      const lost = records.filter(
        (r) =>
          r.status === 'RUNNING' &&
          (r.ownerId === tunerId || r.heartbeatAt === null || now - r.heartbeatAt > this.heartbeatTimeoutMs),
      );
      // This worker's own unfinished trial first (a restarted worker resumes its trial at once).
      lost.sort((a, b) => Number(b.ownerId === tunerId) - Number(a.ownerId === tunerId));
      for (const rec of lost) {
        const trial = await reclaim(rec);
        if (trial) return trial;
      }
      const retry = records.find((r) => r.status === 'INVALID' && r.retries < this.maxRetriesPerTrial);
      if (retry) return claim(retry, true);

      if (this.maxTrials !== null && records.length >= this.maxTrials) {
        // Wait while other workers still run trials: if one dies, its trial needs a new owner.
        const othersRunning = records.some((r) => r.status === 'RUNNING');
        return this.pseudoTrial(othersRunning ? 'IDLE' : 'STOPPED', space);
      }
      const width = this.maxTrials === null ? 4 : String(this.maxTrials).length;
      const trialId = String(records.length).padStart(width, '0');
      const state = { ...study.oracleState };
      const ctx = this.context(records, space, state);
      const result = takeEnqueued(state, records) ?? (await this.populateSpace(trialId, ctx));
      if (result.status !== 'RUNNING') {
        await tx.putStudy({ ...study, oracleState: state });
        const othersRunning = records.some((r) => r.status === 'RUNNING');
        return this.pseudoTrial(result.status === 'STOPPED' && othersRunning ? 'IDLE' : result.status, space);
      }
      const hp = space.copy();
      hp.values = { ...result.values };
      hp.ensureActiveValues();
      // Enqueued values of hyperparameters not declared yet wait for their declaration (first use).
      for (const [name, value] of Object.entries(result.values)) if (!space.has(name)) hp.values[name] = value;
      const rec: TrialRecord = {
        trialId,
        seq: records.length,
        status: 'RUNNING',
        values: hp.values,
        hash: valuesHash(hp.values),
        score: null,
        bestStep: null,
        metrics: {},
        message: null,
        ownerId: tunerId,
        heartbeatAt: now,
        startedAt: now,
        endedAt: null,
        retries: 0,
        userData: result.userData ?? {},
      };
      await tx.putTrial(rec);
      await tx.putStudy({ ...study, oracleState: state });
      return this.toTrial(rec, space);
    });
  }

  /**
   * Queues a configuration to run before anything the oracle would choose (Optuna's enqueue_trial):
   * values not given take their defaults; names not declared yet are kept for when a trial declares
   * them. Returns false, queuing nothing, when the same configuration was already run or queued.
   */
  async enqueueTrial(values: HpValues): Promise<boolean> {
    return (await this.open()).transaction(async (tx) => {
      const study = await requireStudy(tx);
      const space = HyperParameters.fromConfig(study.space);
      for (const [name, value] of Object.entries(values)) {
        const h = space.getHyperParameter(name);
        if (h && !h.accepts(value)) {
          throw new HyperParameterError(`enqueueTrial: ${JSON.stringify(value)} is not a valid value of '${name}'.`);
        }
      }
      const hp = space.copy();
      hp.values = { ...values };
      hp.ensureActiveValues();
      const complete = { ...values, ...hp.values };
      const hash = valuesHash(complete);
      const queue = enqueued(study.oracleState);
      const tried = (await tx.listTrials()).some((r) => valuesHash(r.values) === hash);
      if (tried || queue.some((q) => valuesHash(q) === hash)) return false;
      await tx.putStudy({ ...study, oracleState: { ...study.oracleState, [QUEUE]: [...queue, complete] } });
      return true;
    });
  }

  /** Records a trial's final state. A missing or NaN objective turns COMPLETED into INVALID. */
  async endTrial(trialId: string, input: EndTrialInput): Promise<Trial> {
    return (await this.open()).transaction(async (tx) => {
      const study = await requireStudy(tx);
      const rec = await tx.getTrial(trialId);
      if (!rec) throw new StorageError(`Trial ${trialId} does not exist in this study.`);
      if (input.ownerId !== undefined && (rec.status !== 'RUNNING' || rec.ownerId !== input.ownerId)) {
        throw new TrialLostError(
          `Trial ${trialId} was taken over (now ${rec.status}${rec.ownerId ? ` by ${rec.ownerId}` : ''}) after ` +
            `${input.ownerId} missed its heartbeats; this worker's result is discarded.`,
        );
      }
      const metrics = input.metrics ?? rec.metrics;
      let status: TrialStatus = input.status;
      let message = input.message ?? null;
      let score: number | null = null;
      if (status === 'COMPLETED' || status === 'PRUNED') {
        // A pruned trial stopped before the end: only the primary objective is required of it.
        const required =
          status === 'COMPLETED' ? (paretoObjectives(this.objective) ?? [this.objective]) : [this.objective];
        const missing = required.filter((o) => o.getValue(metrics) === undefined).map((o) => `'${o.name}'`);
        const bad = required.find((o) => !Number.isFinite(o.getValue(metrics) ?? 0));
        if (missing.length > 0) {
          status = 'INVALID';
          message = `The objective ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing from the trial's metrics (${Object.keys(metrics).join(', ') || 'none'}).`;
        } else if (bad) {
          status = 'INVALID';
          message = `The objective '${bad.name}' is ${bad.getValue(metrics)}.`;
        } else {
          score = this.objective.getValue(metrics) as number;
        }
      }
      if (status === 'INVALID' && rec.retries >= this.maxRetriesPerTrial) status = 'FAILED';
      let values = rec.values;
      let stored = study;
      if (input.hyperparameters) {
        const { space, changed } = this.mergeSpace(study, input.hyperparameters);
        if (changed) stored = { ...study, space: space.toConfig() };
        values = declaredValues(rec.values, input.hyperparameters, space);
      }
      const next: TrialRecord = {
        ...rec,
        values,
        hash: values === rec.values ? rec.hash : valuesHash(values),
        status,
        score,
        bestStep: input.bestStep ?? null,
        metrics,
        message,
        ownerId: null,
        endedAt: Date.now(),
      };
      await tx.putTrial(next);
      const space = HyperParameters.fromConfig(stored.space);
      const trial = this.toTrial(next, space);
      if (status !== 'INVALID') {
        const state = { ...stored.oracleState };
        const records = await tx.listTrials();
        await this.onTrialEnd(trial, this.context(records, space, state));
        await tx.putStudy({ ...stored, oracleState: state });
      } else if (stored !== study) {
        await tx.putStudy(stored);
      }
      return trial;
    });
  }

  /**
   * Reports the objective after a step (epoch) of a running trial and asks the pruner whether to
   * stop it. Returns true when the trial should be pruned.
   */
  async shouldPrune(trialId: string, step: number): Promise<boolean> {
    const pruner = this.pruner;
    if (!pruner) return false;
    return (await this.open()).transaction(async (tx) => {
      const study = await requireStudy(tx);
      const records = await tx.listTrials();
      const rec = records.find((r) => r.trialId === trialId);
      if (!rec) return false;
      const space = HyperParameters.fromConfig(study.space);
      const curves = intermediateValues(await tx.listMetrics(), this.objective);
      const trials = records.map((r) => this.toTrial(r, space));
      const trial = trials.find((t) => t.trialId === trialId) as Trial;
      const prune = await pruner.shouldPrune({
        trial,
        step,
        trials,
        direction: this.objective.direction,
        intermediate: (id) => curves.get(id) ?? new Map(),
      });
      if (JSON.stringify(trial.userData) !== JSON.stringify(rec.userData)) {
        await tx.putTrial({ ...rec, userData: trial.userData });
      }
      return prune;
    });
  }

  /** Whether `tunerId` still runs the trial (false once another worker took it over or it ended). */
  async ownsTrial(trialId: string, tunerId: string): Promise<boolean> {
    const rec = await (await this.open()).getTrial(trialId);
    return rec?.status === 'RUNNING' && rec.ownerId === tunerId;
  }

  async heartbeat(trialId: string, tunerId: string): Promise<void> {
    await (await this.open()).heartbeat(trialId, tunerId, Date.now());
  }

  async getTrial(trialId: string): Promise<Trial | undefined> {
    const storage = await this.open();
    const [study, rec] = await Promise.all([storage.getStudy(), storage.getTrial(trialId)]);
    if (!study || !rec) return undefined;
    return this.toTrial(rec, HyperParameters.fromConfig(study.space));
  }

  /** This oracle's persisted state as last recorded (read it only; decisions change it inside createTrial/endTrial). */
  protected async recordedState(): Promise<Record<string, unknown>> {
    return (await (await this.open()).getStudy())?.oracleState ?? {};
  }

  async getTrials(): Promise<Trial[]> {
    const storage = await this.open();
    const study = await storage.getStudy();
    if (!study) return [];
    const space = HyperParameters.fromConfig(study.space);
    return (await storage.listTrials()).map((r) => this.toTrial(r, space));
  }

  /**
   * Single objective: COMPLETED trials best first (rankTrials), padded with other finished or
   * running trials when too few (default 1). Several objectives: the Pareto front sorted by the
   * first objective (paretoFront), all of it unless `numTrials` caps it.
   */
  async getBestTrials(numTrials?: number): Promise<Trial[]> {
    const trials = await this.getTrials();
    const objectives = paretoObjectives(this.objective);
    if (objectives) return paretoFront(trials, objectives).slice(0, numTrials ?? trials.length);
    const dir = this.objective.direction === 'min' ? 1 : -1;
    const completed = rankTrials(trials, this.objective.direction);
    const rest = trials.filter((t) => !completed.includes(t) && t.status !== 'INVALID');
    const restSorted = rest.sort((a, b) => {
      if (a.score === null || !Number.isFinite(a.score)) return 1;
      if (b.score === null || !Number.isFinite(b.score)) return -1;
      return dir * (a.score - b.score);
    });
    return [...completed, ...restSorted].slice(0, numTrials ?? 1);
  }

  /** Keras Tuner's random draw: active hyperparameters in space order, redrawn on collision. */
  protected randomValues(ctx: OracleContext): HpValues | null {
    const tried = new Set(ctx.trials.map((t) => valuesHash(t.hyperparameters.values)));
    for (let attempt = 0; attempt < MAX_COLLISIONS; attempt++) {
      const hp = ctx.hyperparameters.copy();
      hp.values = {};
      for (const h of hp.space) {
        if (!hp.isActive(h)) continue;
        hp.values[h.name] = h.kind === 'Fixed' ? h.default : h.randomSample(ctx.random);
      }
      if (!tried.has(valuesHash(hp.values))) return hp.values;
    }
    return null;
  }

  private context(records: TrialRecord[], space: HyperParameters, state: Record<string, unknown>): OracleContext {
    const hyperparameters = space.copy();
    hyperparameters.values = {};
    if (typeof state.seed !== 'number') state.seed = this.seed;
    if (typeof state.seedState !== 'number') state.seedState = 0;
    return {
      trials: records.map((r) => this.toTrial(r, space)),
      hyperparameters,
      state,
      random: () => {
        const counter = state.seedState as number;
        state.seedState = counter + 1;
        return seededUniform(state.seed as number, counter);
      },
    };
  }

  protected toTrial(rec: TrialRecord, space: HyperParameters): Trial {
    const hp = space.copy();
    hp.values = { ...rec.values };
    const scored = scoreOf(rec, this.objective);
    return {
      trialId: rec.trialId,
      hyperparameters: hp,
      status: rec.status,
      ...scored,
      bestStep: rec.bestStep,
      metrics: rec.metrics,
      message: rec.message,
      ownerId: rec.ownerId,
      heartbeatAt: rec.heartbeatAt,
      startedAt: rec.startedAt,
      endedAt: rec.endedAt,
      retries: rec.retries,
      userData: { ...rec.userData },
    };
  }

  private pseudoTrial(status: 'IDLE' | 'STOPPED', space: HyperParameters): Trial {
    return this.toTrial(
      {
        trialId: '',
        seq: -1,
        status,
        values: {},
        hash: '',
        score: null,
        bestStep: null,
        metrics: {},
        message: null,
        ownerId: null,
        heartbeatAt: null,
        startedAt: null,
        endedAt: null,
        retries: 0,
        userData: {},
      },
      space,
    );
  }
}

async function requireStudy(tx: StudyStore): Promise<StudyRecord> {
  const study = await tx.getStudy();
  if (!study) throw new StorageError('The study record is missing from storage.');
  return study;
}

/**
 * The stored values plus the ones the trial got for hyperparameters it declared while running
 * (their defaults, on first use). Stored values are never overwritten.
 */
function declaredValues(stored: HpValues, hp: HyperParameters, space: HyperParameters): HpValues {
  const added = Object.entries(hp.values).filter(([name]) => !(name in stored) && space.has(name));
  return added.length === 0 ? stored : { ...stored, ...Object.fromEntries(added) };
}

function enqueued(state: Record<string, unknown>): HpValues[] {
  return Array.isArray(state[QUEUE]) ? (state[QUEUE] as HpValues[]) : [];
}

/** The first queued configuration not run meanwhile (removed from the queue in `state`), if any. */
function takeEnqueued(state: Record<string, unknown>, records: TrialRecord[]): PopulateResult | undefined {
  const queue = [...enqueued(state)];
  const tried = new Set(records.map((r) => valuesHash(r.values)));
  let values: HpValues | undefined;
  while (values === undefined && queue.length > 0) {
    const next = queue.shift() as HpValues;
    if (!tried.has(valuesHash(next))) values = next;
  }
  if (queue.length !== enqueued(state).length) state[QUEUE] = queue;
  return values && { status: 'RUNNING', values, userData: { enqueued: true } };
}

function nonNegativeInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0) throw new RangeError(`${name} must be a non-negative integer, got ${v}.`);
  return v;
}

export type { HpValue };
