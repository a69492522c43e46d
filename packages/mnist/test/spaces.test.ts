import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  hyperparametersFor,
  resolveSpace as resolveFor,
  type SearchSpace,
  SearchSpaceError,
} from '@tuneserve/pipeline';
import { initBackend, learningRateOf } from '@tuneserve/runtime';
import { HyperParameters } from '@tuneserve/tuner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MNIST_CONTEXT, registerMnistSpaces } from '../src/index.js';

registerMnistSpaces();
const resolveSpace = (name: string, options: { cnn?: boolean } = {}) => resolveFor(name, MNIST_CONTEXT, options);
/** The batch size a configuration trains with (its own when the space tunes it, else the fallback). */
const batchSizeOf = (space: SearchSpace, hp: HyperParameters, fallback: number) =>
  space.trainingSettings(hp).batchSize ?? fallback;
/** Pixels the configuration's images are shifted by (0: no augmentation). */
const shiftOf = (space: SearchSpace, hp: HyperParameters) =>
  Number(/up to (\d+) px/.exec(space.trainingSettings(hp).augmentation?.description ?? '')?.[1] ?? 0);

let dir: string;
beforeAll(async () => {
  await initBackend({ log: false });
  dir = await mkdtemp(join(tmpdir(), 'spaces-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('search spaces', () => {
  it('seed is exactly the reference: units 16..64 step 16, optimizer rmsprop|adam', async () => {
    const space = await resolveSpace('seed');
    const hp = new HyperParameters();
    const model = await space.hypermodel.build(hp);
    const config = Object.fromEntries(hp.space.map((h) => [h.name, h.toConfig()]));
    expect(Object.keys(config)).toEqual(['units', 'optimizer']);
    expect(config.units).toMatchObject({ minValue: 16, maxValue: 64, step: 16 });
    expect(config.optimizer).toMatchObject({ values: ['rmsprop', 'adam'] });
    // Dense(units, relu) -> Dense(10, softmax) on 784 inputs.
    expect(model.layers.map((l) => l.getClassName())).toEqual(['Dense', 'Dense']);
    expect(model.outputs[0]?.shape).toEqual([null, 10]);
    model.dispose();
    expect(batchSizeOf(space, await hyperparametersFor(space, { units: 32 }), 128)).toBe(128);
  });

  it('default/mlp build MLPs from their values and tune the batch size', async () => {
    const space = await resolveSpace('mlp');
    const hp = await hyperparametersFor(space, {
      layers: 2,
      units: 256,
      dropout: 0.2,
      optimizer: 'adam',
      learning_rate: 0.002,
      batch_size: 256,
    });
    const model = await space.hypermodel.build(hp);
    const dense = model.layers.filter((l) => l.getClassName() === 'Dense');
    expect(dense.map((l) => (l.getConfig() as { units: number }).units)).toEqual([256, 256, 10]);
    expect(model.layers.filter((l) => l.getClassName() === 'Dropout')).toHaveLength(2);
    model.dispose();
    expect(batchSizeOf(space, hp, 128)).toBe(256);
    expect(hp.values.architecture).toBe('mlp');
    expect(shiftOf(space, hp)).toBe(2); // fixed in the MLP branch, so added when not given
    expect(hp.values.augment_shift).toBe(2);
    const shifted = await hyperparametersFor(space, { ...hp.values, augment_shift: 2 });
    expect(shiftOf(space, shifted)).toBe(2);
    await expect(hyperparametersFor(space, { ...hp.values, augment_shift: 3 })).rejects.toThrow(/augment_shift=3/);
  });

  it('MLP and CNN trials train on shifted images and record it, CNNs with a decaying rate; the seed space does neither', async () => {
    const space = await resolveSpace('default', { cnn: true });
    const x = tf.randomUniform([64, 784]);
    const y = tf.tensor1d(
      Array.from({ length: 64 }, (_, i) => i % 10),
      'float32',
    );
    const fitted: HyperParameters[] = [];
    const rates: number[] = [];
    for (const architecture of ['mlp', 'cnn']) {
      const hp = new HyperParameters();
      hp.values = { architecture };
      const model = await space.hypermodel.build(hp);
      // The tuner's own callbacks still run beside the schedule's.
      const ends: number[] = [];
      const callbacks = [new tf.CustomCallback({ onEpochEnd: async (epoch) => void ends.push(epoch) })];
      const history = (await space.hypermodel.fit(hp, model, x, y, { epochs: 2, verbose: 0, callbacks })) as tf.History;
      expect(history.history.loss).toHaveLength(2);
      expect(ends).toEqual([0, 1]);
      rates.push(learningRateOf(model.optimizer));
      fitted.push(hp);
      model.dispose();
    }
    expect(rates[0]).toBeCloseTo(1e-3, 8); // the MLP keeps its rate
    expect(rates[1]).toBeCloseTo(0.9e-3, 8); // the CNN's second epoch ran at 0.9x
    expect(fitted[0]?.values.augment_shift).toBe(2);
    expect(shiftOf(space, fitted[0]!)).toBe(2);
    expect(fitted[0]?.values.lr_decay).toBeUndefined();
    expect(space.trainingSettings(fitted[0]!).schedule).toBeUndefined();
    expect(fitted[1]?.values.augment_shift).toBe(2);
    expect(shiftOf(space, fitted[1]!)).toBe(2);
    expect(fitted[1]?.values.lr_decay).toBe(0.9);
    const schedule = space.trainingSettings(fitted[1]!).schedule;
    expect(schedule?.description).toBe('learning rate x0.9 per epoch');
    expect(schedule?.rate(2, 0.01)).toBeCloseTo(0.0081);
    const seed = await resolveSpace('seed');
    expect(shiftOf(seed, await hyperparametersFor(seed, { units: 16 }))).toBe(0);
    expect(seed.trainingSettings(await hyperparametersFor(seed, { units: 16 })).schedule).toBeUndefined();
    tf.dispose([x, y]);
  });

  it('the default space offers a CNN branch when convolutions can train', async () => {
    const space = await resolveSpace('default', { cnn: true });
    const hp = await hyperparametersFor(space, {
      architecture: 'cnn',
      filters_1: 16,
      filters_2: 32,
      kernel_size: 5,
      dense_units: 128,
      cnn_learning_rate: 0.002,
    });
    const model = await space.hypermodel.build(hp);
    const convs = model.layers.filter((l) => l.getClassName() === 'Conv2D');
    expect(convs.map((l) => (l.getConfig() as { kernelSize: number[] }).kernelSize)).toEqual([
      [5, 5],
      [5, 5],
    ]);
    expect((model.optimizer as unknown as { learningRate: number }).learningRate).toBeCloseTo(0.002);
    expect(hp.values.learning_rate).toBeUndefined(); // the MLP's rate is not part of a CNN trial
    expect(model.inputs[0]?.shape).toEqual([null, 784]); // same flat input as the MLP, for serving
    const out = tf.tidy(() => (model.predict(tf.zeros([2, 784])) as tf.Tensor).shape);
    expect(out).toEqual([2, 10]);
    model.dispose();
  });

  it('rejects unknown names, unknown hyperparameters and out-of-range values', async () => {
    await expect(resolveSpace('huge')).rejects.toThrow(SearchSpaceError);
    await expect(resolveSpace('missing.js')).rejects.toThrow(/does not exist/);
    const seed = await resolveSpace('seed');
    await expect(hyperparametersFor(seed, { units: 60 })).rejects.toThrow(/units=60 is not a valid value/);
    await expect(hyperparametersFor(seed, { depth: 2 })).rejects.toThrow(/"depth" is not part of the seed space/);
  });

  it('loads user spaces from .js and .ts files', async () => {
    const js = join(dir, 'space.mjs');
    await writeFile(
      js,
      `import * as tf from '@tensorflow/tfjs';
export function buildModel(hp) {
  const m = tf.sequential({ layers: [tf.layers.dense({ units: hp.int('width', { minValue: 8, maxValue: 16, step: 8 }), inputShape: [784] }), tf.layers.dense({ units: 10, activation: 'softmax' })] });
  m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  return m;
}`,
    );
    const ts = join(dir, 'space.ts');
    await writeFile(
      ts,
      `import * as tf from '@tensorflow/tfjs';
export default function (hp: { choice(name: string, values: number[]): number }): tf.LayersModel {
  const m = tf.sequential({ layers: [tf.layers.dense({ units: hp.choice('w', [4, 6]), inputShape: [784] })] });
  m.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
  return m;
}`,
    );
    // The files import @tensorflow/tfjs: resolvable only from inside the workspace, so place them there.
    for (const file of [js, ts]) {
      const local = join(import.meta.dirname, `.tmp-${file.endsWith('.ts') ? 'space.ts' : 'space.mjs'}`);
      const { copyFile } = await import('node:fs/promises');
      await copyFile(file, local);
      try {
        const space = await resolveSpace(local);
        const hp = new HyperParameters();
        const model = await space.hypermodel.build(hp);
        expect(hp.space.map((h) => h.name)).toEqual(file.endsWith('.ts') ? ['w'] : ['width']);
        model.dispose();
      } finally {
        await rm(local, { force: true });
      }
    }
    const empty = join(import.meta.dirname, '.tmp-empty.mjs');
    await writeFile(empty, 'export const answer = 42;\n');
    try {
      await expect(resolveSpace(empty)).rejects.toThrow(/exports no buildModel function.*found: answer/);
    } finally {
      await rm(empty, { force: true });
    }
  });
});
