/**
 * Models several packages' tests serve or compare: the default search space's winning CNN shape, and weights that
 * look trained (larger than the initializers', so relu and max pooling both cut) without saturating deep stacks.
 */
import * as tf from '@tensorflow/tfjs';

/** conv16-pool-conv32-pool-dense64-dense10 on a flat 784 input (the shape `tuneserve train` exports from the default space). */
export const winnerCnn = (): tf.Sequential =>
  tf.sequential({
    layers: [
      tf.layers.reshape({ inputShape: [784], targetShape: [28, 28, 1] }),
      tf.layers.conv2d({ filters: 16, kernelSize: 3, activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 32, kernelSize: 3, activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dropout({ rate: 0.25 }),
      tf.layers.dense({ units: 64, activation: 'relu' }),
      tf.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });

/** Overwrites every weight with normal values, spread min(0.3, 1.5/sqrt(fan-in)) so logits stay in float32's comfort. */
export function trainedLookingWeights(model: tf.LayersModel): void {
  for (const w of model.weights) {
    const shape = w.shape as number[];
    const fanIn = shape.length > 1 ? shape.slice(0, -1).reduce((a, b) => a * b, 1) : 9;
    const value = tf.randomNormal(shape, 0, Math.min(0.3, 1.5 / Math.sqrt(fanIn)));
    w.write(value);
    value.dispose();
  }
}
