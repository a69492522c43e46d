/** The model architectures the search spaces choose from, compiled the way the reference compiles them. */

import * as tf from '@tensorflow/tfjs';
import { createOptimizer } from '@tuneserve/runtime';

export type { OptimizerName } from '@tuneserve/runtime';

import type { OptimizerName } from '@tuneserve/runtime';

export interface CompileOptions {
  optimizer: OptimizerName;
  /** Keras' default (1e-3 for rmsprop and adam) when omitted. */
  learningRate?: number;
}

export interface MlpOptions extends CompileOptions {
  /** Units of each hidden Dense(relu) layer. */
  units: number[];
  /** Dropout after each hidden layer (0 = none). */
  dropout?: number;
  inputSize?: number;
  classes?: number;
}

export interface CnnOptions extends CompileOptions {
  /** Filters of each Conv2D(k x k, relu) + MaxPool(2) block. */
  filters: number[];
  /** Side of the square convolution kernels (default 3). */
  kernelSize?: number;
  /** Units of the Dense(relu) layer before the classifier (0 = none). */
  denseUnits: number;
  dropout?: number;
  rows?: number;
  cols?: number;
  classes?: number;
}

/** The reference system's fixed model: Dense(64, relu) -> Dense(10, softmax), rmsprop. */
export function buildReferenceModel(): tf.LayersModel {
  return buildMlp({ units: [64], optimizer: 'rmsprop' });
}

export function buildMlp(o: MlpOptions): tf.LayersModel {
  const model = tf.sequential();
  o.units.forEach((units, i) => {
    model.add(tf.layers.dense({ units, activation: 'relu', ...(i === 0 ? { inputShape: [o.inputSize ?? 784] } : {}) }));
    if (o.dropout) model.add(tf.layers.dropout({ rate: o.dropout }));
  });
  model.add(
    tf.layers.dense({
      units: o.classes ?? 10,
      activation: 'softmax',
      ...(o.units.length === 0 ? { inputShape: [o.inputSize ?? 784] } : {}),
    }),
  );
  return compileClassifier(model, o);
}

/** A small convnet that takes the same flat 784-vector input as the MLP (reshaped inside), so serving is unchanged. */
export function buildCnn(o: CnnOptions): tf.LayersModel {
  const rows = o.rows ?? 28;
  const cols = o.cols ?? 28;
  const model = tf.sequential();
  model.add(tf.layers.reshape({ targetShape: [rows, cols, 1], inputShape: [rows * cols] }));
  for (const filters of o.filters) {
    model.add(tf.layers.conv2d({ filters, kernelSize: o.kernelSize ?? 3, activation: 'relu' }));
    model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  }
  model.add(tf.layers.flatten());
  if (o.dropout) model.add(tf.layers.dropout({ rate: o.dropout }));
  if (o.denseUnits > 0) model.add(tf.layers.dense({ units: o.denseUnits, activation: 'relu' }));
  model.add(tf.layers.dense({ units: o.classes ?? 10, activation: 'softmax' }));
  return compileClassifier(model, o);
}

function compileClassifier(model: tf.Sequential, o: CompileOptions): tf.LayersModel {
  model.compile({
    optimizer: createOptimizer(o.optimizer, o.learningRate),
    loss: 'sparseCategoricalCrossentropy',
    metrics: ['accuracy'],
  });
  return model;
}

const convSupport = new Map<string, boolean>();

/**
 * Whether the active backend can train convolutions (stock wasm lacks Conv2DBackpropFilter). Probed with one tiny
 * gradient step rather than guessed from backend names, so it stays true to whatever kernels are registered.
 */
export function canTrainConvolutions(): boolean {
  const backend = tf.getBackend();
  let ok = convSupport.get(backend);
  if (ok === undefined) {
    try {
      tf.tidy(() => {
        const grad = tf.grads((x: tf.Tensor, f: tf.Tensor) =>
          tf.maxPool(tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, 'valid'), 2, 2, 'valid').sum(),
        );
        grad([tf.ones([1, 6, 6, 1]), tf.ones([3, 3, 1, 2])]);
      });
      ok = true;
    } catch {
      ok = false;
    }
    convSupport.set(backend, ok);
  }
  return ok;
}
