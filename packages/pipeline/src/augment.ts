/**
 * Training-time augmentation: a transform of one example, drawn afresh every epoch. The pipeline applies it to
 * shuffled batches in tuning, the best-epoch search and the retrain alike; a data kind provides the transform
 * (e.g. @tuneserve/mnist's pixel shifts).
 */
import * as tf from '@tensorflow/tfjs';

export interface Augmentation {
  /** Recorded in the model's metadata. */
  readonly description: string;
  /** Writes a transformed copy of the example at src[srcAt..] to dst[dstAt..] (both `size` values long). */
  apply(src: Float32Array, srcAt: number, dst: Float32Array, dstAt: number, random: () => number): void;
}

export interface AugmentedBatchesOptions {
  x: Float32Array;
  y: Float32Array;
  count: number;
  /** Shape of one example, as the model takes it. */
  exampleShape: readonly number[];
  batchSize: number;
  augmentation: Augmentation;
  /** Uniform [0, 1) source for the order and the transforms (default Math.random, seeded by withSeed). */
  random?: () => number;
}

/**
 * A dataset of shuffled batches {xs: [n, ...exampleShape], ys: [n]} whose examples are transformed anew on every
 * pass (TF.js's fitDataset iterates it once per epoch), for `LayersModel.fitDataset`.
 */
export function augmentedBatches(o: AugmentedBatchesOptions): tf.data.Dataset<{ xs: tf.Tensor; ys: tf.Tensor1D }> {
  const size = o.exampleShape.reduce((a, b) => a * b, 1);
  return tf.data.generator(function* () {
    const random = o.random ?? Math.random;
    const order = new Int32Array(o.count);
    for (let i = 0; i < o.count; i++) order[i] = i;
    for (let i = o.count - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      const t = order[i] as number;
      order[i] = order[j] as number;
      order[j] = t;
    }
    for (let start = 0; start < o.count; start += o.batchSize) {
      const n = Math.min(o.batchSize, o.count - start);
      const xs = new Float32Array(n * size);
      const ys = new Float32Array(n);
      for (let b = 0; b < n; b++) {
        const index = order[start + b] as number;
        o.augmentation.apply(o.x, index * size, xs, b * size, random);
        ys[b] = o.y[index] as number;
      }
      yield { xs: tf.tensor(xs, [n, ...o.exampleShape]), ys: tf.tensor1d(ys) };
    }
  });
}
