/**
 * The base of the pipeline's HyperModels: besides the model, a configuration may tune how it trains (batch size,
 * augmentation, learning-rate schedule), declared in `fit` as Keras Tuner's docs suggest. The same declarations give
 * the final training its settings (`SearchSpace.trainingSettings`), so tuning, the best-epoch search and the retrain
 * train alike.
 */
import * as tf from '@tensorflow/tfjs';
import type { InputSchema, OutputSchema } from '@tuneserve/client';
import { type FitInput, HyperModel, type HyperParameters } from '@tuneserve/tuner';
import { type Augmentation, augmentedBatches } from '../augment.js';
import { type LearningRateSchedule, scheduleCallback } from '../schedule.js';

/** What a space knows of the data it builds models for. */
export interface SpaceContext {
  /** Per example, as the data set stores it. */
  inputShape: number[];
  input: InputSchema;
  output: OutputSchema;
}

export interface TrainingSettings {
  /** Unset: the caller's (the --batch-size flag). */
  batchSize?: number;
  augmentation?: Augmentation;
  schedule?: LearningRateSchedule;
}

export abstract class PipelineHyperModel extends HyperModel {
  /** Declares (on `hp`) and returns the training settings of a configuration. Default: none tuned. */
  declareTraining(_hp: HyperParameters): TrainingSettings {
    return {};
  }

  override fit(
    hp: HyperParameters,
    model: tf.LayersModel,
    x: FitInput,
    y: FitInput,
    args: tf.ModelFitArgs,
  ): ReturnType<HyperModel['fit']> {
    const settings = this.declareTraining(hp);
    const batchSize = settings.batchSize ?? args.batchSize;
    const callbacks = settings.schedule
      ? [scheduleCallback(model, settings.schedule), ...asCallbacks(args.callbacks)]
      : args.callbacks;
    if (!settings.augmentation || !(x instanceof tf.Tensor) || !(y instanceof tf.Tensor)) {
      return super.fit(hp, model, x, y, {
        ...args,
        ...(batchSize ? { batchSize } : {}),
        ...(callbacks ? { callbacks } : {}),
      });
    }
    const { epochs, initialEpoch, validationData, verbose } = args;
    return model.fitDataset(
      augmentedBatches({
        x: x.dataSync() as Float32Array,
        y: Float32Array.from(y.dataSync()),
        count: x.shape[0] ?? 0,
        exampleShape: x.shape.slice(1),
        batchSize: batchSize ?? 32,
        augmentation: settings.augmentation,
      }),
      {
        epochs: epochs ?? 1,
        // A trial resumed mid-way continues at its next epoch (and the schedule at that epoch's rate).
        ...(initialEpoch ? { initialEpoch } : {}),
        ...(batchSize ? { validationBatchSize: batchSize } : {}),
        ...(validationData ? { validationData: validationData as [tf.Tensor, tf.Tensor] } : {}),
        ...(callbacks ? { callbacks } : {}),
        ...(verbose !== undefined ? { verbose: verbose === 0 ? 0 : 1 } : {}),
      },
    );
  }
}

/** fit's callbacks in any of the forms TF.js takes, as one list. */
function asCallbacks(callbacks: tf.ModelFitArgs['callbacks']): Array<tf.Callback | tf.CustomCallback> {
  if (callbacks === undefined) return [];
  const list: unknown[] = Array.isArray(callbacks) ? callbacks : [callbacks];
  return list.map((c) =>
    c instanceof tf.Callback || c instanceof tf.CustomCallback ? c : new tf.CustomCallback(c as tf.CustomCallbackArgs),
  );
}

/** [height, width, channels] of an image data set (from its schema, whatever layout it is stored in). */
export function imageDims(ctx: SpaceContext): [number, number, number] | undefined {
  if (ctx.input.kind === 'image') return [ctx.input.height, ctx.input.width, ctx.input.channels];
  if (ctx.inputShape.length === 3) return ctx.inputShape as [number, number, number];
  return undefined;
}
