import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { HyperParameters } from '@tuneserve/tuner';
import { afterAll } from 'vitest';

/** A fresh temporary folder, removed after the file's tests. */
export function tempDir(prefix = 'tuner-test-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A small learnable 3-class problem (an MNIST stand-in): 12 features, the class is decided by
 * which of three feature groups has the largest sum.
 */
export function toyData(n = 300, seed = 7): { x: tf.Tensor2D; y: tf.Tensor1D } {
  return tf.tidy(() => {
    const x = tf.randomUniform([n, 12], 0, 1, 'float32', seed) as tf.Tensor2D;
    const sums = tf.stack(
      [x.slice([0, 0], [n, 4]).sum(1), x.slice([0, 4], [n, 4]).sum(1), x.slice([0, 8], [n, 4]).sum(1)],
      1,
    );
    const y = sums.argMax(1).toFloat() as tf.Tensor1D;
    return { x, y };
  });
}

/** An MLP whose width, optimizer and learning rate are tuned. */
export function buildMlp(hp: HyperParameters): tf.LayersModel {
  const model = tf.sequential();
  model.add(
    tf.layers.dense({
      inputShape: [12],
      units: hp.int('units', { minValue: 8, maxValue: 32, step: 8 }),
      activation: 'relu',
    }),
  );
  model.add(tf.layers.dense({ units: 3, activation: 'softmax' }));
  const lr = hp.float('lr', { minValue: 1e-3, maxValue: 3e-2, sampling: 'log' });
  const name = hp.choice('optimizer', ['adam', 'rmsprop']);
  const optimizer = name === 'adam' ? tf.train.adam(lr) : tf.train.rmsprop(lr);
  model.compile({ optimizer, loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}
