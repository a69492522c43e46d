/**
 * Tuner (Keras Tuner's engine/tuner): a BaseTuner whose default trial builds and trains TF.js
 * models — `executionsPerTrial` executions of build + fit, resumable per epoch, best-epoch
 * checkpoints, pruning — and which rebuilds the best models afterwards. Subclasses choose an
 * oracle (RandomSearch, GridSearch, ...) and may override two hooks: `trialEpochs` (which epochs a
 * trial trains) and `parentTrialId` (whose weights it starts from); Hyperband does.
 */
import path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { hasCheckpoint, loadCheckpoint } from '../checkpoint.js';
import type { Verbosity } from '../display.js';
import { FailedTrialError, FatalError } from '../errors.js';
import { type BuildFn, type FitInput, type HyperModel, toHyperModel } from '../hypermodel.js';
import type { HyperParameters } from '../hyperparameters/index.js';
import type { Trial, TrialResult } from '../trial.js';
import { BaseTuner, type BaseTunerOptions } from './base-tuner.js';
import { builtinMetricsOf, measureBuiltinMetrics } from './builtin-metrics.js';
import { BEST_DIR, discardResumeFiles, disposeModel, type ExecutionData, runExecutions } from './executions.js';
import type { Oracle } from './oracle.js';
import { checkKeepCheckpoints, removeSurplusCheckpoints } from './retention.js';

export interface TunerOptions extends BaseTunerOptions {
  executionsPerTrial?: number;
  /** Trials whose model has more parameters fail at once (Keras Tuner's max_model_size). */
  maxModelSize?: number;
  /**
   * Keep the best-epoch checkpoints of the best K trials only (default: all); the others are deleted once their
   * trial has ended and nothing still needs them. getBestModels(n) works for n <= K.
   */
  keepCheckpoints?: number;
  /** Timed predictions behind the built-in `latency_ms` metric (median reported; default 30). */
  latencyRuns?: number;
}

/** One execution's data under cross-validation. The provider owns (and disposes) the tensors. */
export interface FoldData extends ExecutionData {
  validationData: [FitInput, FitInput];
}

/**
 * Cross-validation for the default runTrial: a trial runs `count` executions, execution i training
 * on fold(i).x/y and validating on fold(i).validationData; the score is their mean (as for executions).
 */
export interface Folds {
  readonly count: number;
  fold(index: number): FoldData | Promise<FoldData>;
}

/** search()'s third argument in the default runTrial: model.fit's arguments plus verbose and folds. */
export type SearchFitArgs = tf.ModelFitArgs & { verbose?: number; folds?: Folds };

/** The epochs a trial trains: from `initialEpoch` up to (not including) `epochs`. */
export interface TrialEpochs {
  epochs: number;
  initialEpoch: number;
}

export class Tuner extends BaseTuner {
  readonly hypermodel: HyperModel | null;
  readonly executionsPerTrial: number;
  declare protected readonly options: TunerOptions;
  private spacePopulated = false;

  constructor(hypermodel: HyperModel | BuildFn | null, options: TunerOptions & { oracle: Oracle }) {
    super(options);
    this.hypermodel = toHyperModel(hypermodel);
    const executions = options.executionsPerTrial ?? 1;
    if (!Number.isInteger(executions) || executions < 1) {
      throw new RangeError(`executionsPerTrial must be a positive integer, got ${executions}.`);
    }
    this.executionsPerTrial = executions;
    this.keepCheckpoints = checkKeepCheckpoints(options.keepCheckpoints);
  }

  /** How many trials keep their checkpoints (undefined: all). */
  readonly keepCheckpoints: number | undefined;

  /**
   * Runs one trial. The default trains `executionsPerTrial` models with model.fit (or the
   * HyperModel's fit) on search()'s (x, y, fitArgs) — or, with fitArgs.folds, one model per fold
   * on that fold's data (x and y unused); override it to tune anything: return the objective as a
   * number or a metrics record containing it.
   */
  async runTrial(trial: Trial, ...args: unknown[]): Promise<TrialResult> {
    const [x, y, fitArgs = {}] = args as [FitInput | undefined, FitInput | undefined, SearchFitArgs | undefined];
    const { verbose: _verbose, callbacks, folds, ...rest } = fitArgs;
    if (!folds && (x === undefined || y === undefined)) {
      throw new FatalError('search(x, y, fitArgs) needs training inputs x and targets y (or fitArgs.folds).');
    }
    const { epochs, initialEpoch } = this.trialEpochs(trial, fitArgs);
    const { epochs: _e, initialEpoch: _i, ...fitRest } = rest;
    const hypermodel = this.requireHypermodel();
    const result = await runExecutions(
      {
        oracle: this.oracle,
        tunerId: this.tunerId,
        display: this.display,
        buildModel: (hp) => this.buildModel(hp),
        fit: (hp, model, fx, fy, args) => hypermodel.fit(hp, model, fx, fy, args),
        markPruned: (id) => this.markPruned(id),
      },
      {
        trial,
        executions: folds ? folds.count : this.executionsPerTrial,
        epochs,
        initialEpoch,
        parentTrialId: this.parentTrialId(trial),
        data: folds ? (execution) => folds.fold(execution) : () => ({ x: x!, y: y! }),
        fitArgs: fitRest,
        callbacks: callbacks === undefined ? [] : Array.isArray(callbacks) ? callbacks : [callbacks],
      },
    );
    // Built-in metrics the objective names (model_size, model_bytes, latency_ms), measured on the trial's architecture.
    const builtins = builtinMetricsOf(this.oracle.objective).filter((m) => !(m in result.metrics));
    if (builtins.length > 0) {
      const model = await this.buildModel(trial.hyperparameters.copy());
      try {
        Object.assign(result.metrics, measureBuiltinMetrics(model, builtins, this.options.latencyRuns));
      } finally {
        disposeModel(model);
      }
    }
    return result;
  }

  /** Hook: the epochs a trial trains. Default: search()'s `initialEpoch` (0) up to its `epochs` (1). */
  protected trialEpochs(_trial: Trial, fitArgs: SearchFitArgs): TrialEpochs {
    return { epochs: fitArgs.epochs ?? 1, initialEpoch: fitArgs.initialEpoch ?? 0 };
  }

  /** Hook: a finished trial whose best weights this trial starts from. Default: none. */
  protected parentTrialId(_trial: Trial): string | undefined {
    return undefined;
  }

  /**
   * Hook: trials whose checkpoints must stay whatever their rank. Default: the parents (parentTrialId) of every
   * trial that has not ended for good, as a retried or running trial loads its parent's weights again.
   */
  protected async checkpointsInUse(trials: readonly Trial[]): Promise<Set<string>> {
    const inUse = new Set<string>();
    for (const t of trials) {
      if (t.status === 'COMPLETED' || t.status === 'PRUNED' || t.status === 'FAILED') continue;
      const parent = this.parentTrialId(t);
      if (parent !== undefined) inUse.add(parent);
    }
    return inUse;
  }

  protected override async trialEnded(_trial: Trial): Promise<void> {
    if (this.keepCheckpoints === undefined) return;
    const trials = await this.oracle.getTrials();
    await removeSurplusCheckpoints(this.oracle, trials, this.keepCheckpoints, await this.checkpointsInUse(trials));
  }

  /** Rebuilds the best trials' models and loads their best-epoch weights. The caller owns (and disposes) them. */
  async getBestModels(numModels = 1): Promise<tf.LayersModel[]> {
    const hypermodel = this.requireHypermodel();
    const models: tf.LayersModel[] = [];
    for (const trial of await this.oracle.getBestTrials(numModels)) {
      const dir = path.join(await this.trialDir(trial.trialId), BEST_DIR);
      if (!hasCheckpoint(dir)) {
        const kept =
          this.keepCheckpoints === undefined
            ? ''
            : `; keepCheckpoints ${this.keepCheckpoints} keeps the best ${this.keepCheckpoints} trials' only`;
        throw new FatalError(`Trial ${trial.trialId} has no checkpoint at ${dir} (status ${trial.status})${kept}.`);
      }
      const model = await hypermodel.build(trial.hyperparameters.copy());
      await loadCheckpoint(model, dir);
      models.push(model);
    }
    return models;
  }

  override async searchSpaceSummary(): Promise<string> {
    await this.oracle.open();
    if (this.hypermodel && !this.spacePopulated) await this.populateInitialSpace();
    return super.searchSpaceSummary();
  }

  protected override async beforeSearch(_args: unknown[]): Promise<void> {
    const custom = this.runTrial !== Tuner.prototype.runTrial;
    if (!custom && !this.hypermodel) {
      throw new FatalError('A tuner without a hypermodel must override runTrial(trial, ...args).');
    }
    if (!custom) await this.populateInitialSpace();
  }

  protected override searchVerbosity(args: unknown[]): Verbosity {
    const fitArgs = args[2] as SearchFitArgs | undefined;
    return (fitArgs?.verbose ?? this.options.verbose ?? 1) as Verbosity;
  }

  protected override async discardProgress(trial: Trial): Promise<void> {
    await super.discardProgress(trial);
    await discardResumeFiles(await this.trialDir(trial.trialId));
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
}
