/** `tune`: runs a hyperparameter search over a search space on the MNIST train/val splits. */
import * as tf from '@tensorflow/tfjs';
import * as tuner from '@tuneserve/tuner';
import type { MnistData } from './data.js';
import type { SearchSpace } from './spaces.js';
import { toTensors } from './tensors.js';

export const TUNER_KINDS = ['bayesian', 'random', 'grid', 'hyperband'] as const;
export type TunerKind = (typeof TUNER_KINDS)[number];
export const PRUNER_KINDS = ['none', 'median', 'asha'] as const;
export type PrunerKind = (typeof PRUNER_KINDS)[number];

export interface TuneOptions {
  space: SearchSpace;
  tuner: TunerKind;
  maxTrials: number;
  executionsPerTrial: number;
  epochs: number;
  batchSize: number;
  objective: string;
  directory: string;
  projectName: string;
  overwrite: boolean;
  seed?: number;
  storage?: string;
  pruner: PrunerKind;
  data: MnistData;
  verbose?: 0 | 1 | 2;
  log?: (line: string) => void;
  /** Runs once the study is open (after --overwrite cleared it), before the first trial. */
  beforeSearch?: () => Promise<void>;
}

/** A tuner kind this build of @tuneserve/tuner does not provide. */
export class TunerUnavailableError extends Error {
  override name = 'TunerUnavailableError';
}

function makePruner(kind: PrunerKind): tuner.Pruner | undefined {
  if (kind === 'median') return new tuner.MedianPruner({ nStartupTrials: 2, nWarmupSteps: 1 });
  if (kind === 'asha') return new tuner.SuccessiveHalvingPruner();
  return undefined;
}

/** Creates the tuner for the options without running anything (also used to read results back). */
export function createTuner(o: Omit<TuneOptions, 'data' | 'batchSize' | 'epochs'> & { epochs?: number }): tuner.Tuner {
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
    ...(o.tuner === 'hyperband' ? { maxEpochs: o.epochs ?? 10, factor: 3 } : {}),
    ...(o.verbose !== undefined ? { verbose: o.verbose } : {}),
    ...(o.log ? { log: o.log } : {}),
  });
}

export interface TuneResult {
  best: { trialId: string; values: Record<string, number | string | boolean>; score: number | null }[];
  seconds: number;
}

/** Searches on train (50k) with val (10k) as validation data; resumes the study unless overwrite. */
export async function runTune(o: TuneOptions): Promise<TuneResult> {
  const t0 = performance.now();
  const search = createTuner(o);
  const train = toTensors(o.data.train);
  const val = toTensors(o.data.val);
  // TF.js's sparse categorical crossentropy needs float labels.
  const yTrain = train.y.toFloat();
  const yVal = val.y.toFloat();
  try {
    // Opening the study applies `overwrite` (it clears the project folder), so files kept beside it come after.
    await search.getBestHyperparameters(1);
    await o.beforeSearch?.();
    await search.search(train.x, yTrain, {
      epochs: o.epochs,
      batchSize: o.batchSize,
      validationData: [val.x, yVal],
      ...(o.verbose !== undefined ? { verbose: o.verbose } : {}),
    });
    const trials = await search.oracle.getBestTrials(3);
    return {
      best: trials.map((t) => ({ trialId: t.trialId, values: { ...t.hyperparameters.values }, score: t.score })),
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    tf.dispose([train.x, train.y, val.x, val.y, yTrain, yVal]);
    await search.close();
  }
}
