/** Model builders the search spaces choose from, with the head and loss that fit the task. */
import * as tf from '@tensorflow/tfjs';
import type { OutputSchema } from '@tuneserve/client';
import { createOptimizer, type OptimizerName } from '@tuneserve/runtime';

export type { OptimizerName } from '@tuneserve/runtime';

export interface CompileOptions {
  optimizer: OptimizerName;
  /** Keras' default (1e-3 for rmsprop and adam) when omitted. */
  learningRate?: number;
}

/** What the model predicts: softmax over the classes, or one linear unit (the standardised target). */
export type Head = { task: 'classification'; classes: number } | { task: 'regression' };

export function headFor(output: OutputSchema): Head {
  return output.task === 'classification' ? { task: 'classification', classes: output.labels.length } : output;
}

export interface MlpOptions extends CompileOptions {
  /** Units of each hidden Dense(relu) layer. */
  units: number[];
  /** Dropout after each hidden layer (0 = none). */
  dropout?: number;
  /** Per example, as the data stores it: a vector ([784], [encoded width]) or an image ([h, w, c], flattened inside). */
  inputShape: number[];
  head: Head;
}

export interface CnnOptions extends CompileOptions {
  /** Filters of each Conv2D(k x k, relu) + MaxPool(2) block. */
  filters: number[];
  /** Side of the square convolution kernels (default 3). */
  kernelSize?: number;
  /** Units of the Dense(relu) layer before the output (0 = none). */
  denseUnits: number;
  dropout?: number;
  /** The image as [height, width, channels]. */
  image: [number, number, number];
  /** true: the model takes the image flattened (reshaped inside, as MNIST's flat 784 inputs); false: as [h, w, c]. */
  flatInput: boolean;
  /** 'same' keeps small images from shrinking away; MNIST's CNN uses 'valid' (default). */
  padding?: 'valid' | 'same';
  head: Head;
}

export function buildMlp(o: MlpOptions): tf.LayersModel {
  const model = tf.sequential();
  const flat = o.inputShape.length === 1;
  if (!flat) model.add(tf.layers.flatten({ inputShape: o.inputShape }));
  o.units.forEach((units, i) => {
    model.add(tf.layers.dense({ units, activation: 'relu', ...(i === 0 && flat ? { inputShape: o.inputShape } : {}) }));
    if (o.dropout) model.add(tf.layers.dropout({ rate: o.dropout }));
  });
  addHead(model, o.head, o.units.length === 0 && flat ? o.inputShape : undefined);
  return compileFor(model, o.head, o);
}

export function buildCnn(o: CnnOptions): tf.LayersModel {
  const [rows, cols, channels] = o.image;
  const model = tf.sequential();
  if (o.flatInput) model.add(tf.layers.reshape({ targetShape: o.image, inputShape: [rows * cols * channels] }));
  o.filters.forEach((filters, i) => {
    model.add(
      tf.layers.conv2d({
        filters,
        kernelSize: o.kernelSize ?? 3,
        activation: 'relu',
        ...(o.padding ? { padding: o.padding } : {}),
        ...(i === 0 && !o.flatInput ? { inputShape: o.image } : {}),
      }),
    );
    model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  });
  model.add(tf.layers.flatten());
  if (o.dropout) model.add(tf.layers.dropout({ rate: o.dropout }));
  if (o.denseUnits > 0) model.add(tf.layers.dense({ units: o.denseUnits, activation: 'relu' }));
  addHead(model, o.head);
  return compileFor(model, o.head, o);
}

function addHead(model: tf.Sequential, head: Head, inputShape?: number[]): void {
  model.add(
    tf.layers.dense(
      head.task === 'classification'
        ? { units: head.classes, activation: 'softmax', ...(inputShape ? { inputShape } : {}) }
        : { units: 1, activation: 'linear', ...(inputShape ? { inputShape } : {}) },
    ),
  );
}

/** Classification: sparse categorical crossentropy + accuracy. Regression: MSE on the standardised target + MAE. */
export function compileFor(model: tf.LayersModel, head: Head, o: CompileOptions): tf.LayersModel {
  model.compile({
    optimizer: createOptimizer(o.optimizer, o.learningRate),
    ...(head.task === 'classification'
      ? { loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] }
      : { loss: 'meanSquaredError', metrics: ['mae'] }),
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
