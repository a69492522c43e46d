import * as tf from '@tensorflow/tfjs';
import { createOptimizer, initBackend, learningRateOf, setLearningRate } from '@tuneserve/runtime';
import { afterAll, describe, expect, it } from 'vitest';
import {
  FusedAdadeltaOptimizer,
  FusedAdagradOptimizer,
  FusedAdamaxOptimizer,
  FusedAdamOptimizer,
  FusedMomentumOptimizer,
  FusedRMSPropOptimizer,
  FusedSGDOptimizer,
} from '../src/wasm/fused-optimizers.js';
import { randomArray, relativeError, rng } from './compare.js';
import { probe, smallModel } from './helpers.js';

afterAll(async () => {
  await initBackend({ log: false });
});

describe('fused optimizers', () => {
  // Both update paths: the accelerator's native loops (when the addon is built) and the JavaScript loops.
  for (const [name, accelerator] of [
    ...(['rmsprop', 'adam', 'sgd'] as const).map((n) => [n, true] as const),
    ...(['rmsprop', 'adam', 'sgd'] as const).map((n) => [n, false] as const),
  ]) {
    it(`${name} (${accelerator ? 'accelerator if built' : 'pure wasm'}): matches tf.train.${name} step by step and never writes a weight buffer in place`, async () => {
      await initBackend({ accelerator, log: false });
      const fused = createOptimizer(name, 0.01);
      expect(fused.constructor).toBe(
        { rmsprop: FusedRMSPropOptimizer, adam: FusedAdamOptimizer, sgd: FusedSGDOptimizer }[name],
      );
      const stock = {
        rmsprop: () => new tf.RMSPropOptimizer(0.01, 0.9, 0),
        adam: () => new tf.AdamOptimizer(0.01, 0.9, 0.999),
        sgd: () => new tf.SGDOptimizer(0.01),
      }[name]();
      expect(fused.getClassName()).toBe(stock.getClassName());
      await expectSameSteps(fused, stock, name);
    });
  }

  // tf.train.* itself (what model.compile({optimizer: 'adam'}) calls) against the stock classes, every variant
  const variants: [string, () => tf.Optimizer, () => tf.Optimizer, new (...args: never[]) => tf.Optimizer][] = [
    ['rmsprop', () => tf.train.rmsprop(0.01), () => new tf.RMSPropOptimizer(0.01, 0.9, 0), FusedRMSPropOptimizer],
    [
      'rmsprop centered with momentum',
      () => tf.train.rmsprop(0.01, 0.8, 0.5, 1e-10, true),
      () => new tf.RMSPropOptimizer(0.01, 0.8, 0.5, 1e-10, true),
      FusedRMSPropOptimizer,
    ],
    ['adam', () => tf.train.adam(0.01), () => new tf.AdamOptimizer(0.01, 0.9, 0.999), FusedAdamOptimizer],
    ['sgd', () => tf.train.sgd(0.1), () => new tf.SGDOptimizer(0.1), FusedSGDOptimizer],
    ['momentum', () => tf.train.momentum(0.05, 0.9), () => new tf.MomentumOptimizer(0.05, 0.9), FusedMomentumOptimizer],
    [
      'nesterov momentum',
      () => tf.train.momentum(0.05, 0.9, true),
      () => new tf.MomentumOptimizer(0.05, 0.9, true),
      FusedMomentumOptimizer,
    ],
    ['adagrad', () => tf.train.adagrad(0.05), () => new tf.AdagradOptimizer(0.05), FusedAdagradOptimizer],
    ['adadelta', () => tf.train.adadelta(1, 0.9), () => new tf.AdadeltaOptimizer(1, 0.9), FusedAdadeltaOptimizer],
    [
      'adamax with decay',
      () => tf.train.adamax(0.01, 0.9, 0.999, undefined, 0.01),
      () => new tf.AdamaxOptimizer(0.01, 0.9, 0.999, undefined, 0.01),
      FusedAdamaxOptimizer,
    ],
  ];
  for (const [label, make, makeStock, fusedClass] of variants) {
    it(`tf.train.${label} is fused after initBackend() and matches the stock optimizer step by step`, async () => {
      await initBackend({ log: false });
      const fused = make();
      // (TF.js's Optimizer answers instanceof by duck typing, so the constructors are compared)
      expect(fused.constructor).toBe(fusedClass);
      const stock = makeStock();
      expect(stock.constructor).not.toBe(fusedClass);
      expect(fused.getClassName()).toBe(stock.getClassName());
      expect(fused.getConfig()).toEqual(stock.getConfig());
      await expectSameSteps(fused, stock, label.replaceAll(' ', '_'));
    });
  }

  it('string optimizers in model.compile are fused; custom optimizers pass through; fixes off gives stock', async () => {
    await initBackend({ log: false });
    const model = smallModel();
    for (const [name, cls] of [
      ['rmsprop', FusedRMSPropOptimizer],
      ['adam', FusedAdamOptimizer],
      ['sgd', FusedSGDOptimizer],
      ['adagrad', FusedAdagradOptimizer],
      ['adadelta', FusedAdadeltaOptimizer],
      ['adamax', FusedAdamaxOptimizer],
    ] as const) {
      model.compile({ optimizer: name, loss: 'categoricalCrossentropy' });
      expect(model.optimizer.constructor, name).toBe(cls);
    }
    class Custom extends tf.SGDOptimizer {}
    const custom = new Custom(0.1);
    model.compile({ optimizer: custom, loss: 'categoricalCrossentropy' });
    expect(model.optimizer).toBe(custom);
    await model.fit(probe(), tf.oneHot(tf.tensor1d([0, 1, 2, 0], 'int32'), 3), { epochs: 1, verbose: 0 });
    await initBackend({ fixes: false, log: false });
    model.compile({ optimizer: 'rmsprop', loss: 'categoricalCrossentropy' });
    expect(model.optimizer.constructor).toBe(tf.RMSPropOptimizer);
    expect(tf.train.adam(0.1).constructor).toBe(tf.AdamOptimizer);
    model.dispose();
    await initBackend({ log: false });
  });
});

/** Six steps of both optimizers on the same gradients: same values, same state, fresh weight buffers. */
async function expectSameSteps(fused: tf.Optimizer, stock: tf.Optimizer, name: string): Promise<void> {
  const r = rng(7);
  const shapes = [[5, 7], [7], [3, 3, 2, 4]];
  const init = shapes.map((s) =>
    randomArray(
      r,
      s.reduce((a, b) => a * b, 1),
    ),
  );
  const mine = init.map((v, i) => tf.variable(tf.tensor(v, shapes[i]), true, `fused_${name}_${i}`));
  const ref = init.map((v, i) => tf.variable(tf.tensor(v, shapes[i]), true, `stock_${name}_${i}`));
  for (let step = 0; step < 6; step++) {
    const grads = shapes.map((s) =>
      tf.tensor(
        randomArray(
          r,
          s.reduce((a, b) => a * b, 1),
        ),
        s,
      ),
    );
    const before = mine.map((v) => v.dataId);
    fused.applyGradients(Object.fromEntries(mine.map((v, i) => [v.name, grads[i]!])));
    stock.applyGradients(Object.fromEntries(ref.map((v, i) => [v.name, grads[i]!])));
    mine.forEach((v, i) => {
      expect(v.dataId, 'a new buffer for every update').not.toBe(before[i]);
    });
    tf.dispose(grads);
  }
  for (let i = 0; i < mine.length; i++) {
    expect(relativeError(mine[i]!.dataSync(), ref[i]!.dataSync()), `variable ${i}`).toBeLessThanOrEqual(1e-4);
  }
  // TF.js's Adamax has no getWeights
  if (stock.getClassName() !== 'Adamax') {
    const [ws, wr] = [await fused.getWeights(), await stock.getWeights()];
    expect(ws.map((w) => w.name.replace('fused', ''))).toEqual(wr.map((w) => w.name.replace('stock', '')));
    for (let i = 0; i < ws.length; i++) {
      expect(relativeError(ws[i]!.tensor.dataSync(), wr[i]!.tensor.dataSync())).toBeLessThanOrEqual(1e-4);
    }
  }
  tf.dispose([...mine, ...ref]);
  fused.dispose();
  stock.dispose();
}

describe('learning-rate schedules', () => {
  // A rate changed between steps must take effect: SGD and momentum cache -lr as a tensor, the others read the field
  // at each step. With a linear loss the gradient is constant and each optimizer's state does not depend on the rate,
  // so step k moves the weights by rate_k * u_k, where u_k follows from runs at one fixed rate.
  // On cpu, tf.train.* are TF.js's own classes; after initBackend() on wasm, the fused twins.
  const makers: [string, 'cpu' | undefined, (lr: number) => tf.Optimizer][] = [
    ...(['sgd', 'adam', 'rmsprop'] as const).map((n): [string, undefined, (lr: number) => tf.Optimizer] => [
      `fused ${n}`,
      undefined,
      (lr) => createOptimizer(n, lr),
    ]),
    ...(['sgd', 'momentum', 'adam', 'rmsprop', 'adagrad'] as const).map(
      (n): [string, 'cpu', (lr: number) => tf.Optimizer] => [
        `stock ${n} (cpu)`,
        'cpu',
        (lr) => (n === 'momentum' ? tf.train.momentum(lr, 0.9) : tf.train[n](lr)),
      ],
    ),
  ];
  const w0 = [1, -2, 3];
  /** Weights after `steps` steps, the rate set to `later` after the first one when given. */
  function run(optimizer: tf.Optimizer, steps: number, later?: number): number[] {
    const w = tf.variable(tf.tensor1d(w0));
    const direction = tf.tensor1d([0.5, 1, -1.5]);
    for (let k = 0; k < steps; k++) {
      if (k === 1 && later !== undefined) setLearningRate(optimizer, later);
      optimizer.minimize(() => tf.sum(tf.mul(w, direction)) as tf.Scalar);
    }
    const out = Array.from(w.dataSync());
    tf.dispose([w, direction]);
    optimizer.dispose();
    return out;
  }
  for (const [label, backend, make] of makers) {
    it(`${label}: a rate set between steps takes effect from the next step`, async () => {
      await initBackend({ ...(backend ? { backend } : {}), log: false });
      const one = run(make(0.05), 1); // w0 - 0.05 u1
      const three = run(make(0.2), 3); // w0 - 0.2 (u1 + u2 + u3)
      const expected = w0.map((w, i) => {
        const u1 = (w - one[i]!) / 0.05;
        const sum = (w - three[i]!) / 0.2;
        return w - 0.05 * u1 - 0.2 * (sum - u1);
      });
      const changed = make(0.05);
      const got = run(changed, 3, 0.2);
      for (const [i, v] of got.entries()) expect(v).toBeCloseTo(expected[i]!, 4);
      const unchanged = run(make(0.05), 3);
      expect(Math.abs(got[0]! - unchanged[0]!)).toBeGreaterThan(1e-3);
      expect(changed.constructor.name.startsWith('Fused')).toBe(backend === undefined);
      await initBackend({ log: false });
    });
  }

  it('reads the rate back and rejects bad rates and optimizers without one', () => {
    const adam = createOptimizer('adam', 0.003);
    expect(learningRateOf(adam)).toBeCloseTo(0.003);
    setLearningRate(adam, 0.0005);
    expect(learningRateOf(adam)).toBeCloseTo(0.0005);
    expect(() => setLearningRate(adam, -1)).toThrow(/non-negative number, got -1/);
    expect(() => setLearningRate(adam, Number.NaN)).toThrow(RangeError);
    const rateless = { getClassName: () => 'Custom' } as unknown as tf.Optimizer;
    expect(() => learningRateOf(rateless)).toThrow(/Custom has no numeric learning rate/);
    adam.dispose();
  });
});

describe('stock fallbacks', () => {
  it('uses the stock optimizers off wasm and rejects bad learning rates', async () => {
    await initBackend({ backend: 'cpu', log: false });
    expect(createOptimizer('adam').constructor).toBe(tf.AdamOptimizer);
    expect(createOptimizer('rmsprop').constructor).toBe(tf.RMSPropOptimizer);
    expect(() => createOptimizer('sgd', -1)).toThrow(/learning rate must be a positive number/);
    expect(() => createOptimizer('nadam' as 'sgd')).toThrow(/unknown optimizer "nadam"/);
    await initBackend({ log: false });
  });
});

/** A deterministic 3-class problem: the class is the sign pattern of two projections of the features. */
function dataset(n: number, features: number, seed: number): { x: tf.Tensor2D; y: tf.Tensor1D } {
  const r = rng(seed);
  const xs = randomArray(r, n * features);
  const ys = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let a = 0;
    let b = 0;
    for (let j = 0; j < features; j++) {
      a += xs[i * features + j]! * Math.sin(j + 1);
      b += xs[i * features + j]! * Math.cos(3 * j);
    }
    ys[i] = a > 0 ? (b > 0 ? 2 : 1) : 0;
  }
  return { x: tf.tensor2d(xs, [n, features]), y: tf.tensor1d(ys, 'float32') };
}

async function fitHistory(
  build: () => tf.LayersModel,
  optimizer: () => tf.Optimizer,
  data: () => { x: tf.Tensor; y: tf.Tensor },
  epochs: number,
): Promise<{ loss: number[]; acc: number[] }> {
  const model = build();
  model.compile({ optimizer: optimizer(), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const { x, y } = data();
  const h = await model.fit(x, y, { epochs, batchSize: 32, shuffle: false, verbose: 0 });
  tf.dispose([x, y]);
  model.dispose();
  return { loss: h.history.loss as number[], acc: h.history.acc as number[] };
}

describe('training with the fixes', () => {
  it("an epoch's loss and accuracy are the float32 size-weighted means of its batches, with and without the fixes", async () => {
    for (const fixes of [false, true]) {
      await initBackend({ fixes, log: false });
      const model = tf.sequential({
        layers: [
          tf.layers.dense({ inputShape: [6], units: 5, activation: 'relu' }),
          tf.layers.dense({ units: 3, activation: 'softmax' }),
        ],
      });
      model.compile({ optimizer: 'rmsprop', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
      const { x, y } = dataset(100, 6, 7); // batches of 32, 32, 32 and 4
      const batches: { loss: number; acc: number; size: number }[][] = [];
      const h = await model.fit(x, y, {
        epochs: 2,
        batchSize: 32,
        verbose: 0,
        callbacks: {
          onEpochBegin: async () => {
            batches.push([]);
          },
          onBatchEnd: async (_batch, logs) => {
            batches.at(-1)!.push({ loss: logs!.loss!, acc: logs!.acc!, size: logs!.size! });
          },
        },
      });
      for (const [epoch, list] of batches.entries()) {
        expect(list.map((b) => b.size)).toEqual([32, 32, 32, 4]);
        const mean = (key: 'loss' | 'acc') => {
          let sum = 0;
          for (const b of list) sum = Math.fround(sum + Math.fround(b[key] * b.size));
          return Math.fround(Math.fround(1 / 100) * sum);
        };
        expect(h.history.loss![epoch], `fixes ${fixes} epoch ${epoch} loss`).toBe(mean('loss'));
        expect(h.history.acc![epoch], `fixes ${fixes} epoch ${epoch} accuracy`).toBe(mean('acc'));
      }
      tf.dispose([x, y]);
      model.dispose();
    }
  });

  it('an MLP trains epoch for epoch like stock wasm with tf.train.rmsprop', async () => {
    const build = () => {
      const m = tf.sequential();
      m.add(
        tf.layers.dense({
          inputShape: [20],
          units: 16,
          activation: 'relu',
          kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }),
        }),
      );
      m.add(
        tf.layers.dense({
          units: 3,
          activation: 'softmax',
          kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }),
        }),
      );
      return m;
    };
    const data = () => dataset(512, 20, 99);
    await initBackend({ fixes: false, log: false });
    const stock = await fitHistory(build, () => tf.train.rmsprop(0.01), data, 4);
    await initBackend({ log: false });
    const ours = await fitHistory(build, () => createOptimizer('rmsprop', 0.01), data, 4);
    expect(stock.loss[3]!).toBeLessThan(stock.loss[0]! * 0.8); // it did learn
    for (let e = 0; e < 4; e++) {
      expect(Math.abs(ours.loss[e]! - stock.loss[e]!) / stock.loss[e]!, `epoch ${e} loss`).toBeLessThan(1e-3);
      expect(Math.abs(ours.acc[e]! - stock.acc[e]!), `epoch ${e} accuracy`).toBeLessThanOrEqual(2 / 512);
    }
  });

  it('a CNN with Conv2D, MaxPool, BatchNormalization and Dropout trains on wasm like on cpu', async () => {
    const build = (dropout: number) => () => {
      const m = tf.sequential();
      m.add(
        tf.layers.conv2d({
          inputShape: [8, 8, 1],
          filters: 4,
          kernelSize: 3,
          activation: 'relu',
          kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }),
        }),
      );
      m.add(tf.layers.batchNormalization());
      m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
      m.add(
        tf.layers.conv2d({
          filters: 6,
          kernelSize: 2,
          strides: 1,
          padding: 'same',
          activation: 'relu',
          kernelInitializer: tf.initializers.glorotUniform({ seed: 6 }),
        }),
      );
      m.add(tf.layers.flatten());
      m.add(tf.layers.dropout({ rate: dropout }));
      m.add(
        tf.layers.dense({
          units: 3,
          activation: 'softmax',
          kernelInitializer: tf.initializers.glorotUniform({ seed: 7 }),
        }),
      );
      return m;
    };
    const data = () => {
      const { x, y } = dataset(256, 64, 5);
      return { x: x.reshape([256, 8, 8, 1]), y };
    };
    await initBackend({ backend: 'cpu', log: false });
    const cpu = await fitHistory(build(0), () => tf.train.sgd(0.05), data, 3);
    await initBackend({ log: false });
    const ours = await fitHistory(build(0), () => createOptimizer('sgd', 0.05), data, 3);
    for (let e = 0; e < 3; e++) {
      expect(Math.abs(ours.loss[e]! - cpu.loss[e]!) / cpu.loss[e]!, `epoch ${e} loss`).toBeLessThan(1e-3);
    }
    const withDropout = await fitHistory(build(0.5), () => createOptimizer('adam', 0.01), data, 4);
    expect(withDropout.loss[3]!).toBeLessThan(withDropout.loss[0]!);
  });
});
