/**
 * BaseTuner (Keras Tuner's base_tuner): the search loop — ask the oracle for a trial, run it,
 * report how it ended — plus failure handling and result access. It knows nothing of models:
 * subclasses implement `runTrial` (Tuner trains TF.js models; any subclass may tune anything).
 * The study storage is reached only through the oracle, which opens it lazily.
 */
import { hostname } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SearchDisplay, type Verbosity } from '../display.js';
import { FailedTrialError, FatalError, TooManyFailedTrialsError, TrialLostError } from '../errors.js';
import type { HyperParameters } from '../hyperparameters/index.js';
import { type Objective, paretoObjectives } from '../objective.js';
import type { HpValues, Trial, TrialResult } from '../trial.js';
import type { Oracle, OracleOptions } from './oracle.js';

export interface BaseTunerOptions extends OracleOptions {
  /** Parent folder of the project folder (default '.'). */
  directory?: string;
  /** The study name and folder (default 'untitled_project'). */
  projectName?: string;
  /** true: delete the existing study when it is first opened; false (default): resume it. */
  overwrite?: boolean;
  /** Study storage URL: 'sqlite:' (default) or a scheme registered with registerStorage. */
  storage?: string;
  /** 0 silent, 1 progress (default), 2 also per-epoch lines on a TTY. */
  verbose?: Verbosity;
  /** Identifies this worker in the study (default: env TUNESERVE_TUNER_ID, else 'tuner0'). */
  tunerId?: string;
  /** Where progress lines go (default: stderr). */
  log?: (line: string) => void;
  /** Heartbeat period while a trial runs (default 5 s). */
  heartbeatIntervalMs?: number;
  /** Seconds after which search() starts no new trial (the running one finishes). Default: no limit. */
  maxTime?: number;
  /** Called after each trial this worker ran has been recorded (COMPLETED, PRUNED, FAILED or INVALID). */
  onTrialEnd?: (trial: Trial) => void | Promise<void>;
}

export abstract class BaseTuner {
  readonly oracle: Oracle;
  readonly directory: string;
  readonly projectName: string;
  readonly tunerId: string;
  protected readonly options: BaseTunerOptions;
  /** The progress display of the running search (undefined between searches). */
  protected display: SearchDisplay | undefined;
  private readonly pruned = new Set<string>();
  private stopRequested = false;
  /** Trials handed out by ask() and not told yet: their owner id and heartbeat timer. */
  private readonly asked = new Map<string, { owner: string; beat: NodeJS.Timeout }>();
  private askCount = 0;

  constructor(options: BaseTunerOptions & { oracle: Oracle }) {
    this.oracle = options.oracle;
    this.options = options;
    this.directory = options.directory ?? '.';
    this.projectName = options.projectName ?? 'untitled_project';
    if (!/^[\w.-]+$/.test(this.projectName) || this.projectName.startsWith('.')) {
      throw new RangeError(
        `projectName must be a plain folder name (letters, digits, _ . -), got '${this.projectName}'.`,
      );
    }
    this.tunerId = options.tunerId ?? process.env.TUNESERVE_TUNER_ID ?? defaultTunerId(options.storage);
    if (options.maxTime !== undefined && !(Number.isFinite(options.maxTime) && options.maxTime > 0)) {
      throw new RangeError(`maxTime must be a positive number of seconds, got ${options.maxTime}.`);
    }
    this.oracle.configure({
      storage: options.storage,
      directory: this.directory,
      projectName: this.projectName,
      overwrite: options.overwrite ?? false,
      tunerName: this.constructor.name,
    });
  }

  /** The project folder: <directory>/<projectName>. */
  get projectDir(): string {
    return path.resolve(this.directory, this.projectName);
  }

  /**
   * Opens the study now (applying `overwrite`) instead of on first use. Optional: every method
   * that reads or writes the study opens it itself.
   */
  async open(): Promise<this> {
    await this.oracle.open();
    return this;
  }

  /** The folder of a trial's checkpoints. */
  trialDir(trialId: string): Promise<string> {
    return this.oracle.trialDir(trialId);
  }

  /** Runs one trial and returns its objective as a number or a metrics record containing it. */
  abstract runTrial(trial: Trial, ...args: unknown[]): Promise<TrialResult>;

  /** Called once per search before the first trial (Tuner discovers the model's space here). */
  protected async beforeSearch(_args: unknown[]): Promise<void> {}

  /** The display verbosity of a search called with these arguments. */
  protected searchVerbosity(_args: unknown[]): Verbosity {
    return this.options.verbose ?? 1;
  }

  /** Marks a running trial as stopped by the pruner: it ends PRUNED, not COMPLETED. */
  protected markPruned(trialId: string): void {
    this.pruned.add(trialId);
  }

  /**
   * Ends the running search() after the trial in progress has been recorded (Optuna's
   * study.stop()); ask() hands out nothing more. Safe to call from runTrial or a callback.
   */
  stop(): void {
    this.stopRequested = true;
  }

  /** Queues a configuration to run before the oracle's own choices (see Oracle.enqueueTrial). */
  enqueueTrial(values: HpValues): Promise<boolean> {
    return this.oracle.enqueueTrial(values);
  }

  /**
   * Ask-and-tell: the next trial to evaluate yourself, then `tell(trial, result)`. Undefined when
   * the search is over (maxTrials handed out, space exhausted, stop() or maxTime) or when every
   * trial still running is one this tuner asked for. Several asks before a tell get different
   * trials; each asked trial heartbeats until it is told, so other workers do not take it over.
   */
  async ask(): Promise<Trial | undefined> {
    this.startClock();
    for (;;) {
      if (this.shouldStop()) return undefined;
      const owner = `${this.tunerId}/ask-${++this.askCount}`;
      const trial = await this.oracle.createTrial(owner);
      if (trial.status === 'STOPPED') return undefined;
      if (trial.status === 'IDLE') {
        if (this.asked.size > 0) return undefined;
        await sleep(500);
        continue;
      }
      const beat = setInterval(() => {
        this.oracle.heartbeat(trial.trialId, owner).catch(() => {});
      }, this.options.heartbeatIntervalMs ?? 5000);
      beat.unref();
      this.asked.set(trial.trialId, { owner, beat });
      return trial;
    }
  }

  /**
   * Records the result of an asked trial: the objective as a number, a metrics record, or an Error
   * (a FailedTrialError fails it for good; any other error may be retried). Hyperparameters the
   * caller declared on the trial after ask() are stored with it and join the search space.
   */
  async tell(trial: Trial, result: TrialResult | Error): Promise<Trial> {
    const asked = this.asked.get(trial.trialId);
    if (!asked)
      throw new FatalError(`Trial ${trial.trialId} was not handed out by this tuner's ask(), or was already told.`);
    clearInterval(asked.beat);
    this.asked.delete(trial.trialId);
    const common = { ownerId: asked.owner, hyperparameters: trial.hyperparameters };
    const ended =
      result instanceof Error
        ? await this.oracle.endTrial(trial.trialId, {
            ...common,
            status: result instanceof FailedTrialError ? 'FAILED' : 'INVALID',
            message: result.stack ?? result.message,
            metrics: {},
          })
        : await this.oracle.endTrial(trial.trialId, {
            ...common,
            status: 'COMPLETED',
            ...normalizeResult(result, this.oracle.objective),
          });
    await this.trialEnded(ended);
    await this.options.onTrialEnd?.(ended);
    return ended;
  }

  /** Runs trials until the oracle stops (or stop() / maxTime). The arguments are passed on to runTrial. */
  async search(...args: unknown[]): Promise<void> {
    this.stopRequested = false;
    this.startedAt = undefined;
    this.startClock();
    await this.oracle.open();
    const display = new SearchDisplay(this.oracle.objective, {
      verbose: this.searchVerbosity(args),
      ...(this.options.log ? { log: this.options.log } : {}),
    });
    this.display = display;
    try {
      await this.beforeSearch(args);
      const best = await this.oracle.getBestTrials(1);
      if (best[0]?.status === 'COMPLETED') display.setBest(best[0].score);
      for (;;) {
        if (this.shouldStop()) break;
        const trial = await this.oracle.createTrial(this.tunerId);
        if (trial.status === 'STOPPED') break;
        if (trial.status === 'IDLE') {
          await sleep(500);
          continue;
        }
        const index = Number.parseInt(trial.trialId, 10) + 1;
        display.trialStart(trial, index, this.oracle.maxTrials);
        const ended = await this.runAndEndTrial(trial, args);
        if (!ended) continue; // another worker took the trial over; it is not ours to count
        display.trialEnd(ended);
        await this.trialEnded(ended);
        await this.options.onTrialEnd?.(ended);
        await this.checkConsecutiveFailures();
      }
    } finally {
      this.display = undefined;
    }
  }

  private startedAt: number | undefined;

  private startClock(): void {
    this.startedAt ??= Date.now();
  }

  private shouldStop(): boolean {
    const maxTime = this.options.maxTime;
    const late = maxTime !== undefined && this.startedAt !== undefined && Date.now() - this.startedAt >= maxTime * 1000;
    return this.stopRequested || late;
  }

  async getBestHyperparameters(numTrials = 1): Promise<HyperParameters[]> {
    return (await this.oracle.getBestTrials(numTrials)).map((t) => t.hyperparameters);
  }

  /** Prints (unless verbose 0) and returns the best trials' summary. */
  async resultsSummary(numTrials = 10): Promise<string> {
    const o = this.oracle.objective;
    const lines = ['Results summary', `Results in ${this.projectDir}`, `Showing ${numTrials} best trials`];
    lines.push(`Objective(name="${o.name}", direction="${o.direction}")`);
    for (const t of await this.oracle.getBestTrials(numTrials)) {
      lines.push('', `Trial ${t.trialId} summary`, 'Hyperparameters:');
      for (const [k, v] of Object.entries(t.hyperparameters.values)) lines.push(`${k}: ${String(v)}`);
      lines.push(`Status: ${t.status}`);
      if (t.score !== null) lines.push(`Score: ${t.score}`);
      if (t.message) lines.push(t.message);
    }
    return this.print(lines.join('\n'));
  }

  /** Prints (unless verbose 0) and returns the search space. */
  async searchSpaceSummary(): Promise<string> {
    await this.oracle.open();
    const space = this.oracle.hyperparameters;
    const lines = ['Search space summary', `Default search space size: ${space.space.length}`];
    for (const h of space.space) {
      const { kind, name, ...config } = h.toConfig();
      lines.push(`${name} (${kind})`, JSON.stringify(config));
    }
    return this.print(lines.join('\n'));
  }

  async close(): Promise<void> {
    await this.oracle.close();
  }

  protected print(text: string): string {
    if ((this.options.verbose ?? 1) !== 0) (this.options.log ?? ((l: string) => process.stdout.write(`${l}\n`)))(text);
    return text;
  }

  /** Runs and ends the trial; undefined when another worker took it over meanwhile (fenced out). */
  private async runAndEndTrial(trial: Trial, args: unknown[]): Promise<Trial | undefined> {
    const beat = setInterval(() => {
      this.oracle.heartbeat(trial.trialId, this.tunerId).catch(() => {});
    }, this.options.heartbeatIntervalMs ?? 5000);
    beat.unref();
    try {
      const { metrics, bestStep } = normalizeResult(await this.runTrial(trial, ...args), this.oracle.objective);
      const status = this.pruned.delete(trial.trialId) ? 'PRUNED' : 'COMPLETED';
      return await this.oracle.endTrial(trial.trialId, {
        status,
        metrics,
        bestStep,
        ownerId: this.tunerId,
        hyperparameters: trial.hyperparameters,
      });
    } catch (err) {
      if (err instanceof FatalError || err instanceof TooManyFailedTrialsError) throw err;
      if (err instanceof TrialLostError) {
        this.print(err.message);
        return undefined;
      }
      // Never clean up after a trial that now belongs to another worker.
      const current = await this.oracle.getTrial(trial.trialId);
      if (current?.status !== 'RUNNING' || current.ownerId !== this.tunerId) return undefined;
      const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
      await this.discardProgress(trial);
      const status = err instanceof FailedTrialError ? 'FAILED' : 'INVALID';
      return await this.oracle
        .endTrial(trial.trialId, {
          status,
          message,
          metrics: {},
          ownerId: this.tunerId,
          hyperparameters: trial.hyperparameters,
        })
        .catch((lost: unknown) => {
          if (lost instanceof TrialLostError) return undefined;
          throw lost;
        });
    } finally {
      clearInterval(beat);
      this.pruned.delete(trial.trialId);
      this.display?.executionEnd();
    }
  }

  /** Hook: runs after a trial this tuner ran or was told about has been recorded (Tuner prunes checkpoints). */
  protected async trialEnded(_trial: Trial): Promise<void> {}

  /** A failed trial's retry must start from scratch: drop its partial metrics (Tuner also drops its resume files). */
  protected async discardProgress(trial: Trial): Promise<void> {
    await this.oracle.discardMetrics(trial.trialId);
  }

  private async checkConsecutiveFailures(): Promise<void> {
    const limit = this.oracle.maxConsecutiveFailedTrials;
    if (limit <= 0) return;
    const finished = (await this.oracle.getTrials())
      .filter((t) => ['COMPLETED', 'PRUNED', 'FAILED'].includes(t.status) && t.endedAt !== null)
      .sort((a, b) => (a.endedAt as number) - (b.endedAt as number));
    let run = 0;
    for (let i = finished.length - 1; i >= 0 && finished[i]?.status === 'FAILED'; i--) run++;
    if (run >= limit) {
      const last = finished[finished.length - 1];
      throw new TooManyFailedTrialsError(
        `${run} consecutive trials failed (maxConsecutiveFailedTrials=${limit}). Last error: ${last?.message ?? 'unknown'}`,
      );
    }
  }
}

/**
 * runTrial's result as metrics (+ best step): a number is the objective's value; an array gives a
 * multi-objective study's values in objective order.
 */
export function normalizeResult(
  result: TrialResult,
  objective: Objective,
): { metrics: Record<string, number>; bestStep: number | null } {
  if (typeof result === 'number') return { metrics: { [objective.name]: result }, bestStep: null };
  if (Array.isArray(result)) {
    const names = (paretoObjectives(objective) ?? [objective]).map((o) => o.name);
    if (result.length !== names.length || !result.every((v) => typeof v === 'number')) {
      throw new FatalError(
        `runTrial returned ${result.length} numbers, but the study has ${names.length} objective(s) (${names.join(', ')}).`,
      );
    }
    return { metrics: Object.fromEntries(names.map((n, i) => [n, result[i] as number])), bestStep: null };
  }
  if (result && typeof result === 'object' && 'metrics' in result && typeof result.metrics === 'object') {
    const r = result as { metrics: Record<string, number>; bestStep?: number };
    return { metrics: r.metrics, bestStep: r.bestStep ?? null };
  }
  if (result && typeof result === 'object') return { metrics: result as Record<string, number>, bestStep: null };
  throw new FatalError(`runTrial must return a number or a metrics record, got ${String(result)}.`);
}

/**
 * A local SQLite study has one worker at a time, so a fixed id lets a restarted process resume its
 * own trial at once. A shared database has many: each process needs its own id, because the id is
 * what fences a worker that lost its trial out of writing it.
 */
function defaultTunerId(storage: string | undefined): string {
  return storage === undefined || /^sqlite:/i.test(storage) ? 'tuner0' : `${hostname()}-${process.pid}`;
}
