/**
 * Tuner base: the search loop (create trial -> run -> end) over a study storage, the default
 * model-training runTrial with per-epoch checkpoints (a killed trial resumes from its last
 * completed epoch), best-epoch checkpoints, pruning, failure handling and result access.
 * Subclasses only choose an oracle (RandomSearch, GridSearch, ...) or override runTrial.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as tf from '@tensorflow/tfjs';
import { hasCheckpoint, loadCheckpoint, readCheckpointState, saveCheckpoint } from './checkpoint.js';
import { SearchDisplay, type Verbosity } from './display.js';
import { FailedTrialError, FatalError, TooManyFailedTrialsError, TrialLostError } from './errors.js';
import { type BuildFn, type FitInput, type HyperModel, toHyperModel } from './hypermodel.js';
import type { HyperParameters } from './hyperparameters.js';
import type { Oracle, OracleOptions } from './oracle.js';
import { openStorage } from './storage/registry.js';
import type { EpochMetric, StudyStorage } from './storage/types.js';
import type { Trial, TrialResult } from './trial.js';

export interface TunerOptions extends OracleOptions {
  executionsPerTrial?: number;
  /** Parent folder of the project folder (default '.'). */
  directory?: string;
  /** The study name and folder (default 'untitled_project'). */
  projectName?: string;
  /** true: delete the existing study first; false (default): resume it. */
  overwrite?: boolean;
  /** Study storage URL: 'sqlite:' (default) or a scheme registered with registerStorage. */
  storage?: string;
  /** 0 silent, 1 progress (default), 2 also per-epoch lines on a TTY. */
  verbose?: Verbosity;
  /** Identifies this worker in the study (default: env TUNESERVE_TUNER_ID, else 'tuner0'). */
  tunerId?: string;
  /** Trials whose model has more parameters fail at once (Keras Tuner's max_model_size). */
  maxModelSize?: number;
  /** Where progress lines go (default: stderr). */
  log?: (line: string) => void;
  /** Heartbeat period while a trial runs (default 5 s). */
  heartbeatIntervalMs?: number;
}

/** search()'s third argument in the default runTrial: model.fit's arguments plus verbose. */
export type SearchFitArgs = tf.ModelFitArgs & { verbose?: number };

interface ResumeState {
  execution: number;
  epoch: number;
  [key: string]: unknown;
}

interface ExecutionProgress {
  doneExecutions: number;
  /** Set when a pruner stopped the trial, so a resume after a kill ends it as PRUNED too. */
  pruned?: boolean;
  /** Results of executions whose fit returned a number or record instead of a History. */
  custom: Record<string, Record<string, number>>;
}

const RESUME_DIR = 'resume';
const BEST_DIR = 'checkpoint';

/** Keras Tuner's base tuner in TF.js style. */
export class Tuner {
  readonly oracle: Oracle;
  readonly hypermodel: HyperModel | null;
  readonly executionsPerTrial: number;
  readonly directory: string;
  readonly projectName: string;
  readonly tunerId: string;
  protected readonly options: TunerOptions;
  private ready: Promise<StudyStorage> | undefined;
  private spacePopulated = false;
  private readonly pruned = new Set<string>();
  private display: SearchDisplay | undefined;

  constructor(hypermodel: HyperModel | BuildFn | null, options: TunerOptions & { oracle: Oracle }) {
    this.hypermodel = toHyperModel(hypermodel);
    this.oracle = options.oracle;
    this.options = options;
    const executions = options.executionsPerTrial ?? 1;
    if (!Number.isInteger(executions) || executions < 1) {
      throw new RangeError(`executionsPerTrial must be a positive integer, got ${executions}.`);
    }
    this.executionsPerTrial = executions;
    this.directory = options.directory ?? '.';
    this.projectName = options.projectName ?? 'untitled_project';
    if (!/^[\w.-]+$/.test(this.projectName) || this.projectName.startsWith('.')) {
      throw new RangeError(
        `projectName must be a plain folder name (letters, digits, _ . -), got '${this.projectName}'.`,
      );
    }
    this.tunerId = options.tunerId ?? process.env.TUNESERVE_TUNER_ID ?? defaultTunerId(options.storage);
  }

  /** The project folder: <directory>/<projectName>. */
  get projectDir(): string {
    return path.resolve(this.directory, this.projectName);
  }

  /** Opens (or creates) the study once; later calls reuse it. */
  protected async storage(): Promise<StudyStorage> {
    if (!this.ready) {
      this.ready = (async () => {
        const storage = await openStorage(this.options.storage, {
          directory: this.directory,
          projectName: this.projectName,
          overwrite: this.options.overwrite ?? false,
        });
        try {
          await this.oracle.attach(storage, this.constructor.name);
        } catch (err) {
          await storage.close();
          throw err;
        }
        return storage;
      })();
      this.ready.catch(() => {
        this.ready = undefined;
      });
    }
    return this.ready;
  }

  /** The folder of a trial's checkpoints. */
  async trialDir(trialId: string): Promise<string> {
    return path.join((await this.storage()).checkpointRoot, `trial_${trialId}`);
  }

  /**
   * Runs trials until the oracle stops. With the default runTrial the arguments are
   * (x, y, fitArgs) as for model.fit; `verbose` in fitArgs sets the display verbosity.
   */
  async search(...args: unknown[]): Promise<void> {
    const custom = this.runTrial !== Tuner.prototype.runTrial;
    if (!custom && !this.hypermodel) {
      throw new FatalError('A tuner without a hypermodel must override runTrial(trial, ...args).');
    }
    await this.storage();
    const fitArgs = args[2] as SearchFitArgs | undefined;
    const verbose = (fitArgs?.verbose ?? this.options.verbose ?? 1) as Verbosity;
    const display = new SearchDisplay(this.oracle.objective, {
      verbose,
      ...(this.options.log ? { log: this.options.log } : {}),
    });
    this.display = display;
    if (!custom) await this.populateInitialSpace();
    const best = await this.oracle.getBestTrials(1);
    if (best[0]?.status === 'COMPLETED') display.setBest(best[0].score);
    for (;;) {
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
      await this.checkConsecutiveFailures();
    }
    this.display = undefined;
  }

  /**
   * Runs one trial. The default trains `executionsPerTrial` models with model.fit (or the
   * HyperModel's fit); override it to tune anything: return the objective as a number or a
   * metrics record containing it.
   */
  async runTrial(trial: Trial, ...args: unknown[]): Promise<TrialResult> {
    const [x, y, fitArgs] = args as [FitInput, FitInput, SearchFitArgs | undefined];
    if (x === undefined || y === undefined) {
      throw new FatalError('search(x, y, fitArgs) needs training inputs x and targets y.');
    }
    return this.runExecutions(trial, x, y, fitArgs ?? {});
  }

  async getBestHyperparameters(numTrials = 1): Promise<HyperParameters[]> {
    await this.storage();
    return (await this.oracle.getBestTrials(numTrials)).map((t) => t.hyperparameters);
  }

  /** Rebuilds the best trials' models and loads their best-epoch weights. The caller owns (and disposes) them. */
  async getBestModels(numModels = 1): Promise<tf.LayersModel[]> {
    await this.storage();
    const hypermodel = this.requireHypermodel();
    const models: tf.LayersModel[] = [];
    for (const trial of await this.oracle.getBestTrials(numModels)) {
      const dir = path.join(await this.trialDir(trial.trialId), BEST_DIR);
      if (!hasCheckpoint(dir)) {
        throw new FatalError(`Trial ${trial.trialId} has no checkpoint at ${dir} (status ${trial.status}).`);
      }
      const model = await hypermodel.build(trial.hyperparameters.copy());
      await loadCheckpoint(model, dir);
      models.push(model);
    }
    return models;
  }

  /** Prints (unless verbose 0) and returns the best trials' summary. */
  async resultsSummary(numTrials = 10): Promise<string> {
    await this.storage();
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
    await this.storage();
    if (this.hypermodel && !this.spacePopulated) await this.populateInitialSpace();
    const space = this.oracle.hyperparameters;
    const lines = ['Search space summary', `Default search space size: ${space.space.length}`];
    for (const h of space.space) {
      const { kind, name, ...config } = h.toConfig();
      lines.push(`${name} (${kind})`, JSON.stringify(config));
    }
    return this.print(lines.join('\n'));
  }

  async close(): Promise<void> {
    if (this.ready) {
      const storage = await this.ready.catch(() => undefined);
      this.ready = undefined;
      await storage?.close();
    }
  }

  protected print(text: string): string {
    if ((this.options.verbose ?? 1) !== 0) (this.options.log ?? ((l: string) => process.stdout.write(`${l}\n`)))(text);
    return text;
  }

  private requireHypermodel(): HyperModel {
    if (!this.hypermodel) throw new FatalError('This tuner has no hypermodel to build models with.');
    return this.hypermodel;
  }

  /** Builds a model for hp, applying tunable=false and maxModelSize. */
  protected async buildModel(hp: HyperParameters): Promise<tf.LayersModel> {
    const hypermodel = this.requireHypermodel();
    const model = await hypermodel.build(hypermodel.tunable ? hp : hp.copy());
    const max = this.options.maxModelSize;
    if (max !== undefined && model.countParams() > max) {
      const n = model.countParams();
      disposeModel(model);
      throw new FailedTrialError(`Oversized model: ${n} parameters exceed maxModelSize ${max}.`);
    }
    return model;
  }

  /**
   * Builds the model repeatedly until every conditional scope has been active once, so the whole
   * space (including conditional hyperparameters) is known before the first trial.
   */
  private async populateInitialSpace(): Promise<void> {
    if (this.spacePopulated || !this.hypermodel) return;
    const hp = this.oracle.hyperparameters.copy();
    hp.values = {};
    this.hypermodel.declareHyperparameters(hp);
    // Each round activates one scope that has not run yet by setting its parents' values.
    // An untunable hypermodel declares nothing: its builds see copies (see buildModel).
    const tried = new Set<string>();
    for (let round = 0; round < 100 && this.hypermodel.tunable; round++) {
      hp.ensureActiveValues();
      disposeModel(await this.hypermodel.build(hp));
      const next = hp.skippedScopes.find((stack) => !tried.has(JSON.stringify(stack)));
      if (!next) break;
      tried.add(JSON.stringify(next));
      for (const c of next) {
        const first = c.parentValues[0];
        if (first !== undefined) hp.values[c.parentName] = first;
      }
    }
    await this.oracle.updateSpace(hp);
    this.spacePopulated = true;
  }

  /** Runs and ends the trial; undefined when another worker took it over meanwhile (fenced out). */
  private async runAndEndTrial(trial: Trial, args: unknown[]): Promise<Trial | undefined> {
    const beat = setInterval(() => {
      this.oracle.heartbeat(trial.trialId, this.tunerId).catch(() => {});
    }, this.options.heartbeatIntervalMs ?? 5000);
    beat.unref();
    try {
      const result = await this.runTrial(trial, ...args);
      const { metrics, bestStep } = this.normalizeResult(result);
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
      // A retry must start from scratch: drop partial metrics and the per-epoch checkpoint.
      await (await this.storage()).deleteMetrics(trial.trialId);
      await rm(path.join(await this.trialDir(trial.trialId), RESUME_DIR), { recursive: true, force: true });
      await rm(path.join(await this.trialDir(trial.trialId), 'progress.json'), { force: true });
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

  private normalizeResult(result: TrialResult): { metrics: Record<string, number>; bestStep: number | null } {
    if (typeof result === 'number') return { metrics: { [this.oracle.objective.name]: result }, bestStep: null };
    if (result && typeof result === 'object' && 'metrics' in result && typeof result.metrics === 'object') {
      const r = result as { metrics: Record<string, number>; bestStep?: number };
      return { metrics: r.metrics, bestStep: r.bestStep ?? null };
    }
    if (result && typeof result === 'object') return { metrics: result as Record<string, number>, bestStep: null };
    throw new FatalError(`runTrial must return a number or a metrics record, got ${String(result)}.`);
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

  /** The default trial: executions of build + fit, resumable per epoch. */
  private async runExecutions(trial: Trial, x: FitInput, y: FitInput, fitArgs: SearchFitArgs): Promise<TrialResult> {
    const storage = await this.storage();
    const objective = this.oracle.objective;
    const hp = trial.hyperparameters;
    const dir = await this.trialDir(trial.trialId);
    const resumeDir = path.join(dir, RESUME_DIR);
    const bestDir = path.join(dir, BEST_DIR);
    const progressFile = path.join(dir, 'progress.json');
    const { verbose: _verbose, callbacks, ...rest } = fitArgs;
    const userCallbacks = callbacks === undefined ? [] : Array.isArray(callbacks) ? callbacks : [callbacks];
    const hpEpochs = hp.values['tuner/epochs'];
    const epochs = typeof hpEpochs === 'number' ? hpEpochs : (rest.epochs ?? 1);
    const hpInitial = hp.values['tuner/initial_epoch'];
    const baseInitial = typeof hpInitial === 'number' ? hpInitial : (rest.initialEpoch ?? 0);
    const parentId = hp.values['tuner/trial_id'];

    const progress = (await readJson<ExecutionProgress>(progressFile)) ?? { doneExecutions: 0, custom: {} };
    const resume = await readCheckpointState<ResumeState>(resumeDir);
    let bestValue = (await readCheckpointState<{ value?: number }>(bestDir))?.value;

    if (progress.pruned) this.pruned.add(trial.trialId);
    const executions = progress.pruned ? progress.doneExecutions : this.executionsPerTrial;
    for (let execution = progress.doneExecutions; execution < executions; execution++) {
      const model = await this.buildModel(hp);
      let pruned = false;
      try {
        if (hp.space.length > this.oracle.hyperparameters.space.length) {
          await this.oracle.updateSpace(hp); // the build declared something new (Keras Tuner's update_space)
        }
        let initialEpoch = baseInitial;
        if (resume && resume.execution === execution && hasCheckpoint(resumeDir)) {
          await loadCheckpoint(model, resumeDir, true);
          initialEpoch = resume.epoch + 1;
        } else if (typeof parentId === 'string') {
          const parentDir = path.join(storage.checkpointRoot, `trial_${parentId}`, BEST_DIR);
          if (hasCheckpoint(parentDir)) await loadCheckpoint(model, parentDir);
        }
        this.display?.executionStart(execution, this.executionsPerTrial, epochs, initialEpoch);
        const callback = new tf.CustomCallback({
          onEpochEnd: async (epoch, logs) => {
            // A worker that lost the trial (missed heartbeats) must not touch its checkpoints or metrics.
            if (!(await this.oracle.ownsTrial(trial.trialId, this.tunerId))) {
              throw new TrialLostError(`Trial ${trial.trialId} was taken over by another worker; stopping it here.`);
            }
            const values = numericLogs(logs);
            const value = objective.getValue(values);
            // Best weights first, so a checkpoint never lags the metrics that claim it.
            if (
              value === undefined ||
              (Number.isFinite(value) && (bestValue === undefined || objective.better(value, bestValue)))
            ) {
              await saveCheckpoint(model, bestDir, { value, execution, epoch });
              if (value !== undefined) bestValue = value;
            }
            const rows: EpochMetric[] = Object.entries(values).map(([name, v]) => ({
              trialId: trial.trialId,
              execution,
              step: epoch,
              name,
              value: v,
            }));
            await storage.putMetrics(rows);
            await saveCheckpoint(model, resumeDir, { execution, epoch }, true);
            await this.oracle.heartbeat(trial.trialId, this.tunerId);
            this.display?.epochEnd(epoch, epochs, execution, value, values);
            if (value !== undefined && Number.isNaN(value)) {
              model.stopTraining = true; // a diverged run cannot recover; the NaN fails the trial
            } else if (await this.oracle.shouldPrune(trial.trialId, epoch)) {
              model.stopTraining = true;
              pruned = true;
            }
          },
        });
        if (initialEpoch < epochs) {
          const hypermodel = this.requireHypermodel();
          const out = await hypermodel.fit(hp, model, x, y, {
            ...rest,
            epochs,
            initialEpoch,
            verbose: 0,
            callbacks: [...userCallbacks, callback],
          });
          if (!(out instanceof tf.History) && out !== undefined) {
            progress.custom[String(execution)] = this.normalizeResult(out as TrialResult).metrics;
          }
        }
      } finally {
        this.display?.executionEnd();
        disposeModel(model);
      }
      progress.doneExecutions = execution + 1;
      if (pruned) progress.pruned = true;
      await writeJsonAtomic(progressFile, progress);
      if (pruned) {
        this.pruned.add(trial.trialId);
        break;
      }
    }
    return summarizeExecutions(await storage.listMetrics(trial.trialId), progress, objective);
  }
}

/** Each execution's best-epoch metrics (or its custom fit result), averaged over executions. */
function summarizeExecutions(
  rows: EpochMetric[],
  progress: ExecutionProgress,
  objective: Oracle['objective'],
): { metrics: Record<string, number>; bestStep?: number } {
  const byExecution = new Map<number, Map<number, Record<string, number>>>();
  for (const r of rows) {
    let steps = byExecution.get(r.execution);
    if (!steps) {
      steps = new Map();
      byExecution.set(r.execution, steps);
    }
    const rec = steps.get(r.step) ?? {};
    rec[r.name] = r.value;
    steps.set(r.step, rec);
  }
  const perExecution: Record<string, number>[] = [];
  const bestSteps: number[] = [];
  const executions = new Set([...byExecution.keys(), ...Object.keys(progress.custom).map(Number)]);
  for (const e of [...executions].sort((a, b) => a - b)) {
    const custom = progress.custom[String(e)];
    if (custom) {
      perExecution.push(custom);
      continue;
    }
    const steps = [...(byExecution.get(e) ?? new Map<number, Record<string, number>>()).entries()].sort(
      (a, b) => a[0] - b[0],
    );
    if (steps.length === 0) continue;
    let best = steps[steps.length - 1] as [number, Record<string, number>];
    for (const s of steps) {
      const v = objective.getValue(s[1]);
      const bv = objective.getValue(best[1]);
      if (v !== undefined && !Number.isNaN(v) && (bv === undefined || Number.isNaN(bv) || objective.better(v, bv)))
        best = s;
    }
    // A NaN anywhere in the run means it diverged: report it so the trial is not taken as best.
    const diverged = steps.some((s) => Number.isNaN(objective.getValue(s[1]) ?? 0));
    perExecution.push(diverged ? { ...best[1], [objective.name]: Number.NaN } : best[1]);
    bestSteps.push(best[0]);
  }
  const metrics: Record<string, number> = {};
  const first = perExecution[0] ?? {};
  for (const name of Object.keys(first)) {
    const vals = perExecution.map((m) => m[name]).filter((v): v is number => typeof v === 'number');
    if (vals.length === perExecution.length) metrics[name] = vals.reduce((a, b) => a + b, 0) / vals.length;
  }
  if (perExecution.length > 0 && objective.getValue(metrics) === undefined) {
    const vals = perExecution.map((m) => objective.getValue(m)).filter((v): v is number => v !== undefined);
    if (vals.length === perExecution.length) metrics[objective.name] = vals.reduce((a, b) => a + b, 0) / vals.length;
  }
  const bestStep = bestSteps.length ? Math.floor(bestSteps.reduce((a, b) => a + b, 0) / bestSteps.length) : undefined;
  return bestStep === undefined ? { metrics } : { metrics, bestStep };
}

function numericLogs(logs: tf.Logs | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(logs ?? {})) if (typeof v === 'number') out[k] = v;
  return out;
}

/** Frees a model's weights and its optimizer's slots (also when the user passed an optimizer instance). */
export function disposeModel(model: tf.LayersModel): void {
  try {
    (model.optimizer as tf.Optimizer | undefined)?.dispose();
  } catch {
    // already disposed
  }
  try {
    model.dispose();
  } catch {
    // already disposed
  }
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, JSON.stringify(value));
  await rename(tmp, file);
}

/**
 * A local SQLite study has one worker at a time, so a fixed id lets a restarted process resume its
 * own trial at once. A shared database has many: each process needs its own id, because the id is
 * what fences a worker that lost its trial out of writing it.
 */
function defaultTunerId(storage: string | undefined): string {
  return storage === undefined || /^sqlite:/i.test(storage) ? 'tuner0' : `${hostname()}-${process.pid}`;
}
