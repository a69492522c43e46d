/** Optimizer factory: fused single-pass optimizers when tuneserve's wasm fixes are active, else tf.train.*. */
import * as tf from '@tensorflow/tfjs';
import { wasmFixesActive } from './backend.js';
import { FusedAdamOptimizer, FusedRMSPropOptimizer, FusedSGDOptimizer } from './wasm/fused-optimizers.js';

export type OptimizerName = 'rmsprop' | 'adam' | 'sgd';
export const OPTIMIZER_NAMES: readonly OptimizerName[] = ['rmsprop', 'adam', 'sgd'];

/** Keras's default learning rates. */
export const DEFAULT_LEARNING_RATES: Record<OptimizerName, number> = { rmsprop: 0.001, adam: 0.001, sgd: 0.01 };

/** The stock TF.js optimizer, or its fused twin (same hyperparameters and defaults) when the wasm fixes are on. */
export function createOptimizer(name: OptimizerName, learningRate?: number, fused = wasmFixesActive()): tf.Optimizer {
  if (!OPTIMIZER_NAMES.includes(name)) {
    throw new RangeError(`unknown optimizer "${String(name)}"; expected one of: ${OPTIMIZER_NAMES.join(', ')}`);
  }
  const lr = learningRate ?? DEFAULT_LEARNING_RATES[name];
  if (!Number.isFinite(lr) || lr <= 0) throw new RangeError(`learning rate must be a positive number, got ${lr}`);
  switch (name) {
    case 'rmsprop':
      // tf.train.rmsprop defaults: decay 0.9, momentum 0, epsilon = backend epsilon, not centered
      return fused ? new FusedRMSPropOptimizer(lr, 0.9, 0, undefined, false) : tf.train.rmsprop(lr);
    case 'adam':
      return fused ? new FusedAdamOptimizer(lr, 0.9, 0.999) : tf.train.adam(lr);
    case 'sgd':
      return fused ? new FusedSGDOptimizer(lr) : tf.train.sgd(lr);
  }
}
