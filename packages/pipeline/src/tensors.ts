import * as tf from '@tensorflow/tfjs';
import type { Split } from './dataset.js';

/**
 * A split as model inputs: x [n, ...exampleShape] and y [n], both float32 (TF.js's sparse categorical crossentropy
 * floors its targets and so wants float class indices; regression targets are floats anyway). The caller disposes.
 */
export function toTensors(split: Split, exampleShape: readonly number[]): { x: tf.Tensor; y: tf.Tensor1D } {
  const x = tf.tensor(split.x, [split.count, ...exampleShape], 'float32');
  const y = tf.tensor1d(split.y, 'float32');
  return { x, y };
}

/** The per-example input shape a model takes ([784], [32, 32, 3], ...). */
export function modelInputShape(model: tf.LayersModel): number[] {
  const shape = model.inputs[0]?.shape;
  if (!shape) throw new Error('the model has no input');
  return shape.slice(1).map((d) => {
    if (d === null) throw new Error('the model has an input dimension of unknown size');
    return d;
  });
}

/** Examples [start, end) of a split, sharing its memory. */
export function sliceSplit(split: Split, start: number, end: number): Split {
  const size = split.count === 0 ? 0 : split.x.length / split.count;
  return { x: split.x.subarray(start * size, end * size), y: split.y.subarray(start, end), count: end - start };
}
