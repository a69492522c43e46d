import * as tf from '@tensorflow/tfjs';
import type { Split } from './data.js';

/** A split as model inputs: x [n, rows*cols] float32, y [n] int32 sparse labels. The caller disposes them. */
export function toTensors(split: Split): { x: tf.Tensor2D; y: tf.Tensor1D } {
  const x = tf.tensor2d(split.images, [split.count, split.rows * split.cols], 'float32');
  const y = tf.tensor1d(split.labels, 'int32');
  return { x, y };
}
