/**
 * The default space for images: a small CNN (two or three conv + pool blocks, 'same' padding so small images keep
 * their size) and, for tiny images (at most 32x32), also an MLP over the flat pixels; width, dropout, learning rate,
 * optimizer and batch size tuned. Where the backend cannot train convolutions (stock wasm) only the MLP is offered.
 */
import type * as tf from '@tensorflow/tfjs';
import type { HyperParameters } from '@tuneserve/tuner';
import { buildCnn, buildMlp, canTrainConvolutions, headFor, type OptimizerName } from '../models.js';
import { imageDims, PipelineHyperModel, type SpaceContext, type TrainingSettings } from './base.js';

export const IMAGE_BATCH_SIZES = [32, 64, 128];
/** Images up to this many pixels are small enough for an MLP to be worth trying. */
const TINY_PIXELS = 32 * 32;

export class ImageHyperModel extends PipelineHyperModel {
  readonly architectures: ('cnn' | 'mlp')[];
  readonly image: [number, number, number];

  constructor(
    readonly context: SpaceContext,
    options: { cnn?: boolean } = {},
  ) {
    super({ name: 'image' });
    const dims = imageDims(context);
    if (!dims) throw new RangeError(`the image space needs image data, got input shape [${context.inputShape}]`);
    this.image = dims;
    const cnn = options.cnn ?? canTrainConvolutions();
    const tiny = dims[0] * dims[1] <= TINY_PIXELS;
    this.architectures = cnn ? (tiny ? ['cnn', 'mlp'] : ['cnn']) : ['mlp'];
  }

  override build(hp: HyperParameters): tf.LayersModel {
    const architecture =
      this.architectures.length > 1
        ? hp.choice('architecture', this.architectures)
        : hp.fixed('architecture', this.architectures[0] as string);
    const optimizer = hp.choice('optimizer', ['adam', 'rmsprop']) as OptimizerName;
    const learningRate = hp.float('learning_rate', { minValue: 3e-4, maxValue: 3e-3, sampling: 'log', default: 1e-3 });
    const head = headFor(this.context.output);
    const flatInput = this.context.inputShape.length === 1;
    const cnn = hp.conditionalScope('architecture', 'cnn', () => {
      const blocks = hp.int('conv_blocks', { minValue: 2, maxValue: 3, default: 2 });
      const filters = hp.choice('filters', [16, 32], { default: 16 }) as number;
      return buildCnn({
        filters: Array.from({ length: blocks }, (_, i) => filters * 2 ** i),
        kernelSize: 3,
        padding: 'same',
        denseUnits: hp.choice('dense_units', [0, 64, 128], { default: 64 }) as number,
        dropout: hp.float('cnn_dropout', { minValue: 0.25, maxValue: 0.5, step: 0.25, default: 0.25 }),
        image: this.image,
        flatInput,
        learningRate,
        optimizer,
        head,
      });
    });
    if (cnn) return cnn;
    const mlp = hp.conditionalScope('architecture', 'mlp', () =>
      buildMlp({
        units: new Array(hp.int('layers', { minValue: 1, maxValue: 2, default: 1 })).fill(
          hp.int('units', { minValue: 64, maxValue: 512, step: 64, default: 256 }),
        ),
        dropout: hp.float('dropout', { minValue: 0.2, maxValue: 0.5, step: 0.1, default: 0.3 }),
        inputShape: this.context.inputShape,
        learningRate,
        optimizer,
        head,
      }),
    );
    if (!mlp) throw new Error(`unknown architecture ${String(architecture)}`);
    return mlp;
  }

  override declareTraining(hp: HyperParameters): TrainingSettings {
    return { batchSize: hp.choice('batch_size', IMAGE_BATCH_SIZES, { default: 32 }) as number };
  }
}
