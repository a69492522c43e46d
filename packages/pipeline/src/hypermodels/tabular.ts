/**
 * The default space for tables: an MLP over the encoded features (standardised numbers, one-hot categories) with
 * 1-3 hidden layers, width, dropout, log-scaled learning rate, optimizer and batch size tuned; softmax over the
 * classes or one linear unit for a regression target.
 */
import type * as tf from '@tensorflow/tfjs';
import type { HyperParameters } from '@tuneserve/tuner';
import { buildMlp, headFor, type OptimizerName } from '../models.js';
import { PipelineHyperModel, type SpaceContext, type TrainingSettings } from './base.js';

export const TABULAR_BATCH_SIZES = [16, 32, 64, 128];

export class TabularHyperModel extends PipelineHyperModel {
  constructor(readonly context: SpaceContext) {
    super({ name: 'tabular' });
  }

  override build(hp: HyperParameters): tf.LayersModel {
    const layers = hp.int('layers', { minValue: 1, maxValue: 3, default: 2 });
    const units = hp.int('units', { minValue: 16, maxValue: 256, step: 16, default: 64 });
    return buildMlp({
      units: new Array(layers).fill(units),
      dropout: hp.float('dropout', { minValue: 0, maxValue: 0.5, step: 0.1, default: 0.1 }),
      // Small tables give few steps per epoch: rates below 3e-4 barely move in a quick budget (iris: 4 batches/epoch).
      learningRate: hp.float('learning_rate', { minValue: 3e-4, maxValue: 3e-2, sampling: 'log', default: 3e-3 }),
      optimizer: hp.choice('optimizer', ['adam', 'rmsprop']) as OptimizerName,
      inputShape: this.context.inputShape,
      head: headFor(this.context.output),
    });
  }

  override declareTraining(hp: HyperParameters): TrainingSettings {
    return { batchSize: hp.choice('batch_size', TABULAR_BATCH_SIZES, { default: 32 }) as number };
  }
}
