/** Trains a chosen configuration the reference's way and publishes it as the next model version. */
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import type { InputSchema, OutputSchema } from '@tuneserve/client';
import { type BackendInfo, ModelRepository } from '@tuneserve/runtime';
import type { Augmentation } from './augment.js';
import type { Dataset } from './dataset.js';
import { evaluateModel } from './evaluate.js';
import { type Evaluation, metricsSummary } from './metrics.js';
import { withSeed } from './random.js';
import type { LearningRateSchedule } from './schedule.js';
import { modelInputShape } from './tensors.js';
import {
  type BestEpochResult,
  type FitListener,
  findBestEpoch,
  fitModel,
  type History,
  retrainEpochs,
} from './training.js';

export type HpValues = Record<string, number | string | boolean>;

export interface FinalTrainingOptions {
  /** Builds a fresh, compiled model of the chosen configuration (called twice: best-epoch search and retrain). */
  build: () => tf.LayersModel | Promise<tf.LayersModel>;
  data: Dataset;
  batchSize: number;
  /** Best-epoch search bounds (the reference: at most 100 epochs, patience 10 on val_loss). */
  maxEpochs?: number;
  patience?: number;
  /** Skip the best-epoch search and train on train+val for exactly this many epochs. */
  fixedEpochs?: number;
  /**
   * 'fresh' (default): a new model is trained on train+val. 'continue': the best-epoch search's model keeps training
   * on train+val, which is what the reference's code does (get_best_trained_model fits the model get_best_epoch
   * returned, after its best epoch + patience epochs on train).
   */
  retrain?: 'fresh' | 'continue';
  /** The configuration's training augmentation (both phases); unset: none. */
  augmentation?: Augmentation;
  /** The configuration's learning rate per epoch (both phases, each from epoch 0); unset: the compiled rate. */
  schedule?: LearningRateSchedule;
  /** Makes the run reproducible (initial weights, shuffles, dropout, augmentation): see random.ts. */
  seed?: number;
  listener?: FitListener;
}

export interface FinalTrainingResult {
  model: tf.LayersModel;
  bestEpoch?: BestEpochResult;
  retrainEpochs: number;
  retrainHistory: History;
  evaluation: Evaluation;
  seconds: number;
}

/** Best epoch (early stopping on val_loss) -> model on train+val for floor(1.2 x best) epochs -> test metrics. */
export function trainFinalModel(o: FinalTrainingOptions): Promise<FinalTrainingResult> {
  return withSeed(o.seed, () => trainFinal(o));
}

async function trainFinal(o: FinalTrainingOptions): Promise<FinalTrainingResult> {
  const t0 = performance.now();
  let bestEpoch: BestEpochResult | undefined;
  let epochs = o.fixedEpochs;
  let searched: tf.LayersModel | undefined;
  const recipe = {
    ...(o.augmentation ? { augmentation: o.augmentation } : {}),
    ...(o.schedule ? { schedule: o.schedule } : {}),
  };
  const listener = o.listener ? { listener: o.listener } : {};
  if (epochs === undefined) {
    const probe = await o.build();
    try {
      bestEpoch = await findBestEpoch(probe, o.data.train, o.data.val, {
        batchSize: o.batchSize,
        maxEpochs: o.maxEpochs ?? 100,
        patience: o.patience ?? 10,
        ...recipe,
        ...listener,
      });
    } catch (err) {
      probe.dispose();
      throw err;
    }
    if (o.retrain === 'continue') searched = probe;
    else probe.dispose();
    epochs = retrainEpochs(bestEpoch.bestEpoch);
  }
  const model = searched ?? (await o.build());
  try {
    const retrainHistory = await fitModel(model, o.data.trainFull(), {
      epochs,
      batchSize: o.batchSize,
      phase: 'retrain',
      ...recipe,
      ...listener,
    });
    const evaluation = evaluateModel(model, o.data.test, o.data.output);
    return {
      model,
      ...(bestEpoch ? { bestEpoch } : {}),
      retrainEpochs: epochs,
      retrainHistory,
      evaluation,
      seconds: (performance.now() - t0) / 1000,
    };
  } catch (err) {
    model.dispose();
    throw err;
  }
}

/**
 * The data's input schema as this model takes it: images stored flat (MNIST MLPs, and CNNs that reshape inside)
 * have layout 'flat', image models with a [h, w, c] input 'hwc'.
 */
export function inputSchemaFor(model: tf.LayersModel, input: InputSchema): InputSchema {
  if (input.kind !== 'image') return input;
  return { ...input, layout: modelInputShape(model).length === 1 ? 'flat' : 'hwc' };
}

export interface ExportOptions {
  modelsDir: string;
  name: string;
  hyperparameters: HpValues;
  /** The data's preprocessing and output, stored so the model is used exactly as it was trained. */
  input: InputSchema;
  output: OutputSchema;
  backend?: BackendInfo;
  /** Extra facts for metadata.training (e.g. the study it came from). */
  training?: Record<string, unknown>;
  extraFiles?: Record<string, string | Uint8Array>;
}

/** Publishes the trained model as the next version of <modelsDir>/<name>/ with full metadata. */
export async function exportModel(
  result: FinalTrainingResult,
  o: ExportOptions,
): Promise<{ version: number; dir: string }> {
  const repo = new ModelRepository(join(o.modelsDir, o.name));
  return repo.saveVersion(
    result.model,
    {
      name: o.name,
      inputShape: modelInputShape(result.model),
      labels: o.output.task === 'classification' ? o.output.labels : [o.output.target],
      input: inputSchemaFor(result.model, o.input),
      output: o.output,
      hyperparameters: o.hyperparameters,
      training: {
        ...o.training,
        bestEpoch: result.bestEpoch?.bestEpoch ?? null,
        bestEpochSearchEpochs: result.bestEpoch?.epochsRun ?? 0,
        bestEpochHistory: result.bestEpoch?.history ?? null,
        retrainEpochs: result.retrainEpochs,
        retrainHistory: result.retrainHistory,
        seconds: Math.round(result.seconds * 10) / 10,
      },
      testMetrics: metricsSummary(result.evaluation),
      ...(o.backend ? { backend: o.backend.name } : {}),
    },
    o.extraFiles ?? {},
  );
}
