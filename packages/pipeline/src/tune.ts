/** `tune`: runs a hyperparameter search over a search space on a data set's train/val splits. */
import * as tf from '@tensorflow/tfjs';
import { DEFAULT_SEED, drawFolds, foldSplits } from '@tuneserve/data';
import * as tuner from '@tuneserve/tuner';
import type { Dataset } from './dataset.js';
import { CrossValidationError, EnqueueError, SearchSpaceError, TunerUnavailableError } from './errors.js';
import { withSeed } from './random.js';
import { hyperparametersFor, type SearchSpace } from './space.js';
import { toTensors } from './tensors.js';

/** The tuner registry's kinds (a new tuner there is a new --tuner choice here). */
export const TUNER_KINDS: readonly tuner.TunerKind[] = tuner.TUNER_KINDS;
export type TunerKind = tuner.TunerKind;
export const PRUNER_KINDS = ['none', 'median', 'asha'] as const;
export type PrunerKind = (typeof PRUNER_KINDS)[number];

export interface TuneOptions {
  space: SearchSpace;
  data: Dataset;
  /** Default 'bayesian'. */
  tuner?: TunerKind;
  /** Default 10. */
  maxTrials?: number;
  /** Models trained per trial, averaged (default 1). */
  executionsPerTrial?: number;
  /** Epochs per execution (default 10). */
  epochs?: number;
  /** When the space does not tune it (default 32). */
  batchSize?: number;
  /**
   * Default: val_accuracy for classification, val_loss for regression. Two or more objectives search
   * for their Pareto front (a missing direction is inferred from the name).
   */
  objective?: string | ObjectiveChoice[];
  /** The study lives in <directory>/<projectName> (defaults 'tuning' and the data set's name). */
  directory?: string;
  projectName?: string;
  /** Start afresh instead of resuming (default false). */
  overwrite?: boolean;
  seed?: number;
  storage?: string;
  /** Default 'none'. */
  pruner?: PrunerKind;
  /** Keep the checkpoints of the best K trials only (default: all). */
  keepCheckpoints?: number;
  verbose?: 0 | 1 | 2;
  log?: (line: string) => void;
  /** Runs once the study is open (after --overwrite cleared it), before the first trial. */
  beforeSearch?: () => Promise<void>;
  /**
   * K-fold cross-validation (K >= 2): each trial trains K models, model i validating on fold i of
   * train + val and training on the other folds (the test split is untouched); the score is the
   * folds' mean, its spread the metric `<objective>_std`. Replaces executionsPerTrial.
   */
  cv?: number;
  /** Seconds after which no new trial starts (the running one finishes). */
  maxTime?: number;
  /** Configurations to run first (Optuna's enqueue_trial); one already run or queued is not repeated. */
  enqueue?: HpValues[];
}

type HpValues = Record<string, number | string | boolean>;

/** One objective of a multi-objective search: a metric and, unless inferable from its name, its direction. */
export interface ObjectiveChoice {
  name: string;
  direction?: 'min' | 'max';
}

/** The tuner's objective for the options' objective (names, or several with directions). */
export function toTunerObjective(objective: string | ObjectiveChoice[]): tuner.ObjectiveInput {
  return typeof objective === 'string' ? objective : objective.map((o) => new tuner.Objective(o.name, o.direction));
}

/** How an objective reads in messages: `val_accuracy` or `val_accuracy (max), latency_ms (min)`. */
export function describeObjective(objective: string | ObjectiveChoice[]): string {
  if (typeof objective === 'string') return objective;
  return objective.map((o) => `${o.name} (${new tuner.Objective(o.name, o.direction).direction})`).join(', ');
}

function makePruner(kind: PrunerKind): tuner.Pruner | undefined {
  if (kind === 'median') return new tuner.MedianPruner({ nStartupTrials: 2, nWarmupSteps: 1 });
  if (kind === 'asha') return new tuner.SuccessiveHalvingPruner();
  return undefined;
}

type Resolved = Required<
  Omit<
    TuneOptions,
    'seed' | 'storage' | 'keepCheckpoints' | 'verbose' | 'log' | 'beforeSearch' | 'cv' | 'maxTime' | 'enqueue'
  >
> &
  TuneOptions;

function withDefaults(o: TuneOptions): Resolved {
  return {
    tuner: 'bayesian',
    maxTrials: 10,
    executionsPerTrial: 1,
    epochs: 10,
    batchSize: 32,
    objective: defaultObjective(o.data),
    directory: 'tuning',
    projectName: o.data.name,
    overwrite: false,
    pruner: 'none',
    ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)),
  } as Resolved;
}

/** Creates the tuner for the options without running anything (also used to read results back). */
export function createTuner(options: TuneOptions): tuner.Tuner {
  const o = withDefaults(options);
  if (!tuner.isTunerKind(o.tuner)) {
    throw new TunerUnavailableError(`the ${o.tuner} tuner is not available in @tuneserve/tuner`);
  }
  const pruner = makePruner(o.pruner);
  return tuner.createTuner(o.tuner, o.space.hypermodel, {
    objective: toTunerObjective(o.objective),
    maxTrials: o.maxTrials,
    executionsPerTrial: o.cv ?? o.executionsPerTrial,
    ...(o.maxTime !== undefined ? { maxTime: o.maxTime } : {}),
    directory: o.directory,
    projectName: o.projectName,
    overwrite: o.overwrite,
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    ...(o.storage ? { storage: o.storage } : {}),
    ...(pruner ? { pruner } : {}),
    ...(o.keepCheckpoints !== undefined ? { keepCheckpoints: o.keepCheckpoints } : {}),
    ...(o.tuner === 'hyperband' ? { maxEpochs: o.epochs ?? 10, factor: 3 } : {}),
    ...(o.verbose !== undefined ? { verbose: o.verbose } : {}),
    ...(o.log ? { log: o.log } : {}),
  });
}

export interface TuneResult {
  /** scoreStd: the score's spread over the folds (cross-validation) or executions. */
  best: { trialId: string; values: HpValues; score: number | null; scoreStd?: number }[];
  seconds: number;
  /** The search stopped at maxTime before its trials ran out. */
  timedOut?: boolean;
}

/** The objective a task optimises unless told otherwise (Keras Tuner's usual choices). */
export function defaultObjective(data: Pick<Dataset, 'task'>): string {
  return data.task === 'classification' ? 'val_accuracy' : 'val_loss';
}

/**
 * Searches on train with val as validation data; resumes the study unless overwrite. With a seed, the whole run
 * (draws, initial weights, shuffles, dropout, augmentation) is reproducible: see random.ts.
 */
export async function runTune(options: TuneOptions): Promise<TuneResult> {
  return withSeed(options.seed, () => search(withDefaults(options)));
}

async function search(o: Resolved): Promise<TuneResult> {
  const t0 = performance.now();
  // Folds first: a data set that cannot make them fails before anything is written.
  const folds = o.cv !== undefined ? crossValidation(o.data, o.cv, o.seed) : undefined;
  if (o.enqueue) await checkQueue(o.space, o.enqueue);
  const search = createTuner(o);
  const held: tf.Tensor[] = [];
  try {
    // Opening the study applies `overwrite` (it clears the project folder), so files kept beside it come after.
    await search.getBestHyperparameters(1);
    for (const values of o.enqueue ?? []) await search.enqueueTrial(values);
    await o.beforeSearch?.();
    const fitArgs = {
      epochs: o.epochs,
      batchSize: o.batchSize,
      ...(o.verbose !== undefined ? { verbose: o.verbose } : {}),
    };
    if (folds) {
      await search.search(undefined, undefined, { ...fitArgs, folds });
    } else {
      const train = toTensors(o.data.train, o.data.inputShape);
      const val = toTensors(o.data.val, o.data.inputShape);
      held.push(train.x, train.y, val.x, val.y);
      await search.search(train.x, train.y, { ...fitArgs, validationData: [val.x, val.y] });
    }
    const trials = await search.oracle.getBestTrials(3);
    // The tuner stops at maxTime between trials; with fewer trials than asked for, that is what ended it.
    const timedOut =
      o.maxTime !== undefined &&
      performance.now() - t0 >= o.maxTime * 1000 &&
      (await search.oracle.getTrials()).length < o.maxTrials;
    return {
      best: trials.map((t) => ({
        trialId: t.trialId,
        values: { ...t.hyperparameters.values },
        score: t.score,
        ...(t.metrics[tuner.stdName(search.oracle.objective.name)] !== undefined
          ? { scoreStd: t.metrics[tuner.stdName(search.oracle.objective.name)]! }
          : {}),
      })),
      seconds: (performance.now() - t0) / 1000,
      ...(timedOut ? { timedOut: true } : {}),
    };
  } finally {
    tf.dispose(held);
    folds?.dispose();
    await search.close();
  }
}

/**
 * The folds of train + val as tuner Folds. One fold's tensors are held at a time (executions run
 * in fold order), so K folds of a large data set cost one copy, not K.
 */
function crossValidation(data: Dataset, k: number, seed: number | undefined): tuner.Folds & { dispose(): void } {
  if (data.split.source.val === 'given') {
    throw new CrossValidationError(
      `cross-validation draws its folds from the training data, but ${data.name} brings its own validation split (a val/ folder, or MNIST's reference split); use a data set without one, or tune without cross-validation`,
    );
  }
  const pool = data.trainFull();
  const labels = data.output.task === 'classification' ? data.output.labels : undefined;
  const members = drawFolds({
    name: data.name,
    total: pool.count,
    k,
    ...(data.task === 'classification' ? { classes: pool.y } : {}),
    ...(labels ? { labels } : {}),
    seed: seed ?? DEFAULT_SEED,
  });
  let current: { index: number; tensors: tf.Tensor[]; data: tuner.FoldData } | undefined;
  const release = () => {
    if (current) tf.dispose(current.tensors);
    current = undefined;
  };
  return {
    count: k,
    fold(index) {
      if (current?.index !== index) {
        release();
        const { train, val } = foldSplits(pool, members, index);
        const t = toTensors(train, data.inputShape);
        const v = toTensors(val, data.inputShape);
        current = { index, tensors: [t.x, t.y, v.x, v.y], data: { x: t.x, y: t.y, validationData: [v.x, v.y] } };
      }
      return current.data;
    },
    dispose: release,
  };
}

/** Checks each configuration against the space (names it declares, values it allows) before anything is written. */
async function checkQueue(space: SearchSpace, list: HpValues[]): Promise<void> {
  for (const [i, values] of list.entries()) {
    await hyperparametersFor(space, values).catch((err: unknown) => {
      if (!(err instanceof SearchSpaceError)) throw err;
      throw new EnqueueError(`${list.length > 1 ? `entry ${i + 1}: ` : ''}${err.message}`);
    });
  }
}
