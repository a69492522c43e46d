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
import { trainedLookingWeights, winnerCnn } from '../../../test-support/models.js';
import { hasSystem } from '../../../test-support/system.js';
import { loadAccelerator } from '../src/native/accelerator.js';

beforeAll(async () => {
  await initBackend({ log: false });
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

/**
 * Every register block of the addon's direct convolution and few-rows product: 48 output channels (three vectors of 16), 64 (four), 32
 * (two), 80 (four, then one), 20 (one, then four channels one at a time); rows wider than a block whose last block
 * overlaps the one before, and rows narrower than a block; 'same' padding with and without strides; a pooled odd size.
 */
const blocks = () =>
  tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [9, 7, 2], filters: 48, kernelSize: 3, padding: 'same', activation: 'relu' }),
      tf.layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu' }),
      tf.layers.conv2d({ filters: 32, kernelSize: [3, 2], strides: [2, 1], padding: 'same' }),
      tf.layers.conv2d({ filters: 80, kernelSize: 1, activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2, padding: 'same' }),
      tf.layers.conv2d({ filters: 20, kernelSize: 2 }),
      tf.layers.flatten(),
      // the few-rows product: 16 columns in registers, then 4 one at a time
      tf.layers.dense({ units: 20, activation: 'relu' }),
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
    // the addon's kernels for every instruction set this CPU runs (AVX-512, AVX2, baseline), then back to the widest
    const addon = loadAccelerator().addon;
    const widest = addon?.inferIsa?.();
    const isas = ['avx512', 'avx2', 'baseline'].filter((isa) => {
      try {
        return addon?.inferIsa?.(isa) === isa;
      } catch {
        return false; // not supported by this CPU
      }
    });
    if (addon) expect(isas, 'the baseline kernels run everywhere').toContain('baseline');
    type Run = [HostGemm | undefined, HostConv | undefined, string | undefined];
    const runs = setups.flatMap(([gemm, native]): Run[] =>
      native ? isas.map((isa): Run => [gemm, native, isa]) : [[gemm, native, undefined]],
    );
    for (const [gemm, native, isa] of runs) {
      if (!gemm) continue;
      if (isa) addon?.inferIsa?.(isa);
      for (const [model, classes] of [
        [winnerCnn(), 10],
        [variants(), 7],
        [blocks(), 7],
      ] as const) {
        trainedLookingWeights(model);
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
    if (widest) addon?.inferIsa?.(widest);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('returns outputs the next batch does not overwrite', () => {
    const model = winnerCnn();
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
    for (const m of models) m.dispose();
  });

  it('chooseInference serves a CNN on the host path when the addon is loaded', () => {
    const model = winnerCnn();
    const inference = chooseInference(model, [784]);
    expect(inference.path).toBe(hostGemm() ? 'host-conv' : 'graph');
    const input = random(9 * 784);
    expectClose(inference.run([input], 9), executed(model, input, 9), 10);
    model.dispose();
  });
});

describe.skipIf(!hasSystem('openblas'))('the inference kernels refuse bad arguments instead of touching memory', () => {
  it('throws a RangeError for a wrong argument count, a bad geometry or an operand outside the array', () => {
    const conv = loadAccelerator().addon!;
    const run = conv.inferConv2d!.bind(conv);
    const pool = conv.inferMaxPool!.bind(conv);
    const dense = conv.inferDense!.bind(conv);
    const ws = new Float32Array(64);
    // a 4x4 one-channel image, 2x2 filter, stride 2 -> 2x2 outputs
    const g = new Int32Array([1, 4, 4, 1, 2, 2, 2, 2, 2, 2, 0, 0]);
    const with_ = (i: number, v: number) => Int32Array.from(g, (x, j) => (j === i ? v : x));
    const bad: [string, () => void][] = [
      ['conv, too few arguments', () => (run as (...a: unknown[]) => void)(ws, 0, 16, 20, g, 1, -1)],
      ['conv, y outside', () => run(ws, 0, 16, 62, g, 1, -1, false)],
      ['conv, filter outside', () => run(ws, 0, 62, 20, g, 1, -1, false)],
      ['conv, bias outside', () => run(ws, 0, 16, 20, g, 1, 64, false)],
      ['conv, image outside', () => run(ws, 50, 16, 20, g, 1, -1, false)],
      ['conv, no output channels', () => run(ws, 0, 16, 20, g, 0, -1, false)],
      ['conv, negative offset', () => run(ws, -1, 16, 20, g, 1, -1, false)],
      ['conv, zero stride', () => run(ws, 0, 16, 20, with_(8, 0), 1, -1, false)],
      ['conv, padding as large as the filter', () => run(ws, 0, 16, 20, with_(10, 2), 1, -1, false)],
      ['conv, short geometry', () => run(ws, 0, 16, 20, g.subarray(0, 11), 1, -1, false)],
      [
        'conv, not a Float32Array',
        () => run(new Float64Array(64) as unknown as Float32Array, 0, 16, 20, g, 1, -1, false),
      ],
      ['pool, output outside', () => pool(ws, 0, 62, g)],
      ['pool, negative size', () => pool(ws, 0, 20, with_(1, -4))],
      ['pool, too few arguments', () => (pool as (...a: unknown[]) => void)(ws, 0, 20)],
      ['dense, C outside', () => dense(ws, 2, 4, 4, 0, 16, 60)],
      ['dense, B outside', () => dense(ws, 2, 4, 4, 0, 50, 32)],
      ['dense, no rows', () => dense(ws, 0, 4, 4, 0, 16, 32)],
      ['dense, too few arguments', () => (dense as (...a: unknown[]) => void)(ws, 2, 4, 4, 0, 16)],
    ];
    for (const [label, call] of bad) expect(call, label).toThrow(RangeError);
    // the same geometry with room: a 4x4 image of 0..15, filter [[1, 2], [3, 4]], bias 0.5
    ws.set(Array.from({ length: 16 }, (_, i) => i));
    ws.set([1, 2, 3, 4, 0.5], 16);
    run(ws, 0, 16, 24, g, 1, 20, false);
    expect(Array.from(ws.subarray(24, 28))).toEqual([34.5, 54.5, 114.5, 134.5]);
    pool(ws, 0, 28, g);
    expect(Array.from(ws.subarray(28, 32))).toEqual([5, 7, 13, 15]);
    // [[1, 2], [3, 4]] @ [[1, 0], [0.5, 2]]
    ws.set([1, 2, 3, 4, 1, 0, 0.5, 2], 40);
    dense(ws, 2, 2, 2, 40, 44, 48);
    expect(Array.from(ws.subarray(48, 52))).toEqual([2, 4, 5, 8]);
  });
});
