/** The direct Dense path must compute exactly what LayersModel.execute computes, and decline other models. */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@tuneserve/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { denseInferencePlan } from '../src/model/dense-plan.js';

beforeAll(async () => {
  await initBackend({ log: false });
});

function same(model: tf.LayersModel, input: tf.Tensor): void {
  const plan = denseInferencePlan(model);
  expect(plan).toBeDefined();
  const before = tf.memory().numTensors;
  const want = tf.tidy(() => model.execute(input, model.outputs[0]!.name) as tf.Tensor);
  const got = plan!(input);
  expect(got.shape).toEqual(want.shape);
  expect(Array.from(got.dataSync())).toEqual(Array.from(want.dataSync()));
  tf.dispose([got, want]);
  expect(tf.memory().numTensors).toBe(before);
}

describe('denseInferencePlan', () => {
  it('matches execute bit for bit on Dense stacks (relu, linear, softmax, no bias, dropout, flatten)', () => {
    const mlp = tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [784], units: 64, activation: 'relu' }),
        tf.layers.dense({ units: 10, activation: 'softmax' }),
      ],
    });
    const wide = tf.sequential({
      layers: [
        tf.layers.flatten({ inputShape: [28, 28] }),
        tf.layers.dense({ units: 32, activation: 'relu', useBias: false }),
        tf.layers.dropout({ rate: 0.5 }),
        tf.layers.dense({ units: 16 }),
        tf.layers.dense({ units: 10, activation: 'softmax' }),
      ],
    });
    const x = tf.randomUniform([5, 784]);
    same(mlp, x);
    same(wide, x.reshape([5, 28, 28]));
    tf.dispose([x, mlp, wide]);
  });

  it('declines models it does not reproduce exactly', () => {
    const cnn = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 2, kernelSize: 3 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 10, activation: 'softmax' }),
      ],
    });
    const tanh = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3, activation: 'tanh' })] });
    const lastAxis = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3, 4], units: 2 })] });
    const input = tf.input({ shape: [4] });
    const functional = tf.model({
      inputs: input,
      outputs: tf.layers.dense({ units: 2 }).apply(input) as tf.SymbolicTensor,
    });
    for (const m of [cnn, tanh, lastAxis, functional]) expect(denseInferencePlan(m)).toBeUndefined();
    tf.dispose([cnn, tanh, lastAxis, functional]);
  });
});
