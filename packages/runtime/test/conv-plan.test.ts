/**
 * The host conv path must compute what LayersModel.execute computes (within 1e-5, the same argmax) for the conv/pool/
 * dense stacks the search spaces produce and their common variants, on batches that grow its workspace and arrive in
 * parts; decline what it does not reproduce; and leave no tensor behind.
 */
import * as tf from '@tensorflow/tfjs';
import {
  chooseInference,
  type HostConv,
  type HostGemm,
  hostConv,
  hostConvPlan,
  hostGemm,
  initBackend,
} from '@tuneserve/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { hasSystem } from '../../../test-support/system.js';

beforeAll(async () => {
  await initBackend({ log: false });
});

/** The default space's winner shape: conv16-pool-conv32-pool-dense64-dense10 on a flat 784 input. */
const winner = () =>
  tf.sequential({
    layers: [
      tf.layers.reshape({ inputShape: [784], targetShape: [28, 28, 1] }),
      tf.layers.conv2d({ filters: 16, kernelSize: 3, activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 32, kernelSize: 3, activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dropout({ rate: 0.25 }),
      tf.layers.dense({ units: 64, activation: 'relu' }),
      tf.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });

/** Variants: image input, 'same' padding, strides, 5x5 kernels, no bias, average pooling, odd sizes, 3 channels. */
const variants = () =>
  tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [13, 11, 3], filters: 8, kernelSize: 5, padding: 'same', activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }),
      tf.layers.conv2d({ filters: 6, kernelSize: [3, 2], strides: [2, 1], useBias: false }),
      tf.layers.averagePooling2d({ poolSize: 2, padding: 'same' }),
      tf.layers.conv2d({ filters: 5, kernelSize: 1, activation: 'relu' }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 7, activation: 'softmax' }),
    ],
  });

const random = (n: number) => Float32Array.from({ length: n }, () => Math.random());

function executed(model: tf.LayersModel, input: Float32Array, rows: number): Float32Array {
  const shape = [rows, ...(model.inputs[0]!.shape.slice(1) as number[])];
  const out = tf.tidy(() => model.execute(tf.tensor(input, shape), model.outputs[0]!.name) as tf.Tensor);
  const values = out.dataSync() as Float32Array;
  out.dispose();
  return values;
}

function expectClose(got: Float32Array, want: Float32Array, classes: number): void {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
  expect(worst).toBeLessThan(1e-5);
  const argmax = (a: Float32Array, r: number) =>
    a.subarray(r * classes, (r + 1) * classes).reduce((b, v, i, row) => (v > row[b]! ? i : b), 0);
  for (let r = 0; r < got.length / classes; r++) expect(argmax(got, r), `row ${r}`).toBe(argmax(want, r));
}

/** A plain float64-accumulating product, for machines without the addon. */
const reference: HostGemm = (ws, m, n, k, a, b, c) => {
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let p = 0; p < k; p++) sum += ws[a + i * k + p]! * ws[b + p * n + j]!;
      ws[c + i * n + j] = sum;
    }
};

describe('hostConvPlan', () => {
  it('matches execute within 1e-5 with the same argmax, for growing batches that arrive in parts', () => {
    if (hasSystem('openblas')) expect(hostGemm(), 'OpenBLAS is installed, so the addon must load').toBeDefined();
    const before = tf.memory().numTensors;
    // the addon's convolution and pooling, OpenBLAS with the JavaScript im2col and pooling, and no addon at all
    const setups: [HostGemm | undefined, HostConv | undefined][] = [
      [hostGemm(), hostConv()],
      [hostGemm(), undefined],
      [reference, undefined],
    ];
    for (const [gemm, native] of setups) {
      if (!gemm) continue;
      for (const [model, classes] of [
        [winner(), 10],
        [variants(), 7],
      ] as const) {
        // trained-looking weights: larger than the initializers' so relu and max pool both cut
        for (const w of model.weights) {
          const value = tf.randomNormal(w.shape, 0, 0.3);
          w.write(value);
          value.dispose();
        }
        const plan = hostConvPlan(model, gemm, native);
        expect(plan).toBeDefined();
        const width = model.inputs[0]!.shape.slice(1).reduce((a, b) => a! * b!, 1)!;
        for (const rows of gemm === reference ? [1, 3, 20] : [1, 5, 70, 3, 200]) {
          const input = random(rows * width);
          const cut = Math.floor(rows / 2) * width;
          expectClose(
            plan!([input.subarray(0, cut), input.subarray(cut)], rows),
            executed(model, input, rows),
            classes,
          );
        }
        model.dispose();
      }
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('returns outputs the next batch does not overwrite', () => {
    const model = winner();
    const plan = hostConvPlan(model, hostGemm() ?? reference)!;
    const first = plan([random(784)], 1);
    const copy = Float32Array.from(first);
    plan([random(3 * 784)], 3);
    expect(first).toEqual(copy);
    model.dispose();
  });

  it('declines Dense-only stacks and layers or settings it does not reproduce', () => {
    const gemm = hostGemm() ?? reference;
    const models = [
      tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3, activation: 'relu' })] }),
      tf.sequential({
        layers: [
          tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 2, kernelSize: 3, activation: 'tanh' }),
          tf.layers.flatten(),
        ],
      }),
      tf.sequential({
        layers: [
          tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 2, kernelSize: 3, dilationRate: 2 }),
          tf.layers.flatten(),
        ],
      }),
      tf.sequential({
        layers: [
          tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 2, kernelSize: 3 }),
          tf.layers.batchNormalization(),
          tf.layers.flatten(),
        ],
      }),
    ];
    for (const m of models) expect(hostConvPlan(m, gemm), m.layers.map((l) => l.getClassName()).join()).toBeUndefined();
    tf.dispose(models);
  });

  it('chooseInference serves a CNN on the host path when the addon is loaded', () => {
    const model = winner();
    const inference = chooseInference(model, [784]);
    expect(inference.path).toBe(hostGemm() ? 'host-conv' : 'graph');
    const input = random(9 * 784);
    expectClose(inference.run([input], 9), executed(model, input, 9), 10);
    model.dispose();
  });
});
