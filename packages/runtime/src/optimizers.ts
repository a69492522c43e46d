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

/** The learning rate an optimizer steps with now (tf.train's optimizers keep it in a protected field). */
export function learningRateOf(optimizer: tf.Optimizer): number {
  const lr = (optimizer as unknown as { learningRate?: unknown }).learningRate;
  if (typeof lr !== 'number') {
    throw new TypeError(`optimizer ${optimizer.getClassName()} has no numeric learning rate to schedule`);
  }
  return lr;
}

/**
 * Changes the learning rate between steps, as Keras's schedulers do. Every tf.train optimizer (and its fused twin)
 * reads the field at each step, except SGD, which caches -lr as a tensor and so has its own setter.
 */
export function setLearningRate(optimizer: tf.Optimizer, learningRate: number): void {
  if (!Number.isFinite(learningRate) || learningRate < 0) {
    throw new RangeError(`learning rate must be a non-negative number, got ${learningRate}`);
  }
  learningRateOf(optimizer);
  // Not `instanceof tf.SGDOptimizer`: tf.Optimizer's Symbol.hasInstance accepts any optimizer.
  const target = optimizer as unknown as { learningRate: number; setLearningRate?: (lr: number) => void };
  if (typeof target.setLearningRate === 'function') target.setLearningRate(learningRate);
  else target.learningRate = learningRate;
}
