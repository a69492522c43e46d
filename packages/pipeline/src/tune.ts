/** `tune`: runs a hyperparameter search over a search space on a data set's train/val splits. */
import * as tf from '@tensorflow/tfjs';
import * as tuner from '@tuneserve/tuner';
import type { Dataset } from './dataset.js';
import { TunerUnavailableError } from './errors.js';
import { withSeed } from './random.js';
import type { SearchSpace } from './space.js';
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
  /** Default: val_accuracy for classification, val_loss for regression. */
  objective?: string;
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
}

function makePruner(kind: PrunerKind): tuner.Pruner | undefined {
  if (kind === 'median') return new tuner.MedianPruner({ nStartupTrials: 2, nWarmupSteps: 1 });
  if (kind === 'asha') return new tuner.SuccessiveHalvingPruner();
  return undefined;
}

type Resolved = Required<
  Omit<TuneOptions, 'seed' | 'storage' | 'keepCheckpoints' | 'verbose' | 'log' | 'beforeSearch'>
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
    objective: o.objective,
    maxTrials: o.maxTrials,
    executionsPerTrial: o.executionsPerTrial,
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
  best: { trialId: string; values: Record<string, number | string | boolean>; score: number | null }[];
  seconds: number;
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
  const search = createTuner(o);
  const train = toTensors(o.data.train, o.data.inputShape);
  const val = toTensors(o.data.val, o.data.inputShape);
  try {
    // Opening the study applies `overwrite` (it clears the project folder), so files kept beside it come after.
    await search.getBestHyperparameters(1);
    await o.beforeSearch?.();
    await search.search(train.x, train.y, {
      epochs: o.epochs,
      batchSize: o.batchSize,
      validationData: [val.x, val.y],
      ...(o.verbose !== undefined ? { verbose: o.verbose } : {}),
    });
    const trials = await search.oracle.getBestTrials(3);
    return {
      best: trials.map((t) => ({ trialId: t.trialId, values: { ...t.hyperparameters.values }, score: t.score })),
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    tf.dispose([train.x, train.y, val.x, val.y]);
    await search.close();
  }
}
