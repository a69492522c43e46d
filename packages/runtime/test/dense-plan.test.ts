/**
 * The direct Dense paths must compute what LayersModel.execute computes (the TF.js plan bit for bit, the host plan
 * within float32 rounding of softmax), decline other models, and leave no tensor behind.
 */
import * as tf from '@tensorflow/tfjs';
import {
  chooseInference,
  denseInferencePlan,
  type HostGemm,
  hostDensePlan,
  hostGemm,
  initBackend,
} from '@tuneserve/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { hasSystem } from '../../../test-support/system.js';

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

const mlp = () =>
  tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [784], units: 64, activation: 'relu' }),
      tf.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
const wide = () =>
  tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [28, 28] }),
      tf.layers.dense({ units: 32, activation: 'relu', useBias: false }),
      tf.layers.dropout({ rate: 0.5 }),
      tf.layers.dense({ units: 16 }),
      tf.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });

/** What execute answers for `rows` examples, as flat floats. */
function executed(model: tf.LayersModel, input: Float32Array, rows: number): Float32Array {
  const shape = [rows, ...(model.inputs[0]!.shape.slice(1) as number[])];
  const out = tf.tidy(() => model.execute(tf.tensor(input, shape), model.outputs[0]!.name) as tf.Tensor);
  const values = out.dataSync() as Float32Array;
  out.dispose();
  return values;
}

function expectClose(got: Float32Array, want: Float32Array, classes = 10): void {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
  expect(worst).toBeLessThan(1e-6);
  const argmax = (a: Float32Array, r: number) =>
    a.subarray(r * classes, (r + 1) * classes).reduce((b, v, i, row) => (v > row[b]! ? i : b), 0);
  for (let r = 0; r < got.length / classes; r++) expect(argmax(got, r)).toBe(argmax(want, r));
}

const random = (n: number) => Float32Array.from({ length: n }, () => Math.random());

/** The OpenBLAS product where CI installs it; a plain float64-accumulating product otherwise. */
const reference: HostGemm = (ws, m, n, k, a, b, c) => {
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let p = 0; p < k; p++) sum += ws[a + i * k + p]! * ws[b + p * n + j]!;
      ws[c + i * n + j] = sum;
    }
};

describe('hostDensePlan', () => {
  it('matches execute within float32 rounding, for batches that grow its workspace', () => {
    if (hasSystem('openblas')) expect(hostGemm(), 'OpenBLAS is installed, so the addon must load').toBeDefined();
    const before = tf.memory().numTensors;
    for (const gemm of [hostGemm(), reference]) {
      if (!gemm) continue;
      for (const model of [mlp(), wide()]) {
        const plan = hostDensePlan(model, gemm)!;
        expect(plan).toBeDefined();
        for (const rows of [1, 5, 70, 3, 200]) {
          const input = random(rows * 784);
          // split into uneven parts, as a batch of requests arrives
          const cut = Math.floor(rows / 2) * 784;
          expectClose(plan([input.subarray(0, cut), input.subarray(cut)], rows), executed(model, input, rows));
        }
        model.dispose();
      }
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('returns outputs the next batch does not overwrite', () => {
    const model = mlp();
    const plan = hostDensePlan(model, hostGemm() ?? reference)!;
    const a = random(784);
    const first = plan([a], 1);
    const copy = Float32Array.from(first);
    plan([random(2 * 784)], 2);
    expect(first).toEqual(copy);
    model.dispose();
  });
});

describe('chooseInference', () => {
  it('takes the fastest path that computes the model, and all paths agree', () => {
    const cnn = tf.sequential({
      layers: [
        tf.layers.reshape({ inputShape: [784], targetShape: [28, 28, 1] }),
        // tanh: no host plan computes it, so this one takes the graph
        tf.layers.conv2d({ filters: 2, kernelSize: 3, activation: 'tanh' }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 10, activation: 'softmax' }),
      ],
    });
    const dense = mlp();
    const before = tf.memory().numTensors;
    const input = random(7 * 784);
    const host = chooseInference(dense, [784]);
    const tfjs = chooseInference(dense, [784], { host: false });
    const graph = chooseInference(cnn, [784]);
    expect(host.path).toBe(hostGemm() ? 'host-dense' : 'tfjs-dense');
    expect(tfjs.path).toBe('tfjs-dense');
    expect(graph.path).toBe('graph');
    expectClose(host.run([input], 7), executed(dense, input, 7));
    expect(tfjs.run([input.subarray(0, 784), input.subarray(784)], 7)).toEqual(executed(dense, input, 7));
    expect(graph.run([input], 7)).toEqual(executed(cnn, input, 7));
    expect(tf.memory().numTensors).toBe(before);
    for (const m of [cnn, dense]) m.dispose();
  });
});

describe('denseInferencePlan', () => {
  it('matches execute bit for bit on Dense stacks (relu, linear, softmax, no bias, dropout, flatten)', () => {
    const [dense, flat] = [mlp(), wide()];
    const x = tf.randomUniform([5, 784]);
    same(dense, x);
    same(flat, x.reshape([5, 28, 28]));
    for (const m of [x, dense, flat]) m.dispose();
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
    for (const m of [cnn, tanh, lastAxis, functional]) {
      expect(denseInferencePlan(m)).toBeUndefined();
      expect(hostDensePlan(m, reference)).toBeUndefined();
    }
    for (const m of [cnn, tanh, lastAxis, functional]) m.dispose();
  });
});
