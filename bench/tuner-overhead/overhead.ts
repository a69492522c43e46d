/**
 * What the tuner's bookkeeping costs on top of plain training, on an MNIST-sized MLP:
 * baseline = model.fit for E epochs; ours = a one-trial RandomSearch of the same model and epochs
 * (study in SQLite, per-epoch metrics, best-epoch and resume checkpoints with optimizer slots).
 * Also checks memory across trials: tensors and RSS after 1 trial vs after 6.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { HyperParameters, RandomSearch } from '@tuneserve/tuner';

const EPOCHS = 4;
const N = 4000;
const BATCH = 128;

function build(hp: HyperParameters): tf.LayersModel {
  const model = tf.sequential();
  model.add(tf.layers.dense({ inputShape: [784], units: hp.fixed('units', 64), activation: 'relu' }));
  model.add(tf.layers.dense({ units: 10, activation: 'softmax' }));
  model.compile({ optimizer: tf.train.rmsprop(1e-3), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] as number;

async function main(): Promise<void> {
  // wasm is the project's default backend; fall back to cpu when it cannot start.
  if (!(await tf.setBackend('wasm').catch(() => false))) await tf.setBackend('cpu');
  await tf.ready();
  const x = tf.randomUniform([N, 784], 0, 1, 'float32', 1);
  const y = tf.randomUniform([N], 0, 10, 'int32', 2).toFloat();
  const xv = tf.randomUniform([1000, 784], 0, 1, 'float32', 3);
  const yv = tf.randomUniform([1000], 0, 10, 'int32', 4).toFloat();
  const fitArgs = {
    epochs: EPOCHS,
    batchSize: BATCH,
    validationData: [xv, yv] as [tf.Tensor, tf.Tensor],
    verbose: 0 as const,
  };
  const dir = mkdtempSync(path.join(tmpdir(), 'tuner-overhead-'));
  const base: number[] = [];
  const ours: number[] = [];
  try {
    // Warm-up (JIT, kernels) so neither side pays it.
    const warm = build(new HyperParameters());
    await warm.fit(x, y, { ...fitArgs, epochs: 1 });
    warm.dispose();
    for (let round = 0; round < 3; round++) {
      let t = performance.now();
      const model = build(new HyperParameters());
      await model.fit(x, y, fitArgs);
      model.dispose();
      base.push((performance.now() - t) / EPOCHS);

      t = performance.now();
      const tuner = new RandomSearch(build, {
        objective: 'val_accuracy',
        maxTrials: 1,
        directory: dir,
        projectName: `r${round}`,
        overwrite: true,
        verbose: 0,
      });
      await tuner.search(x, y, fitArgs);
      await tuner.close();
      ours.push((performance.now() - t) / EPOCHS);
    }

    // Memory across trials: a 6-trial study (space of one Int) vs the state after its first trial.
    const memory = async (trials: number) => {
      const space = (hp: HyperParameters) => {
        hp.int('seed', { minValue: 0, maxValue: 99 });
        return build(hp);
      };
      const tuner = new RandomSearch(space, {
        objective: 'val_loss',
        maxTrials: trials,
        seed: 1,
        directory: dir,
        projectName: `mem${trials}`,
        overwrite: true,
        verbose: 0,
      });
      await tuner.search(x, y, { ...fitArgs, epochs: 1 });
      await tuner.close();
      return { tensors: tf.memory().numTensors, rss: process.memoryUsage().rss };
    };
    const after1 = await memory(1);
    const after6 = await memory(6);

    const b = median(base);
    const o = median(ours);
    console.log(
      `MLP 784-64-10, ${N} samples, batch ${BATCH}, ${EPOCHS} epochs, backend ${tf.getBackend()}, median of 3`,
    );
    console.log('                          baseline (model.fit)   ours (1-trial search)   ratio ours/baseline');
    console.log(
      `seconds per epoch         ${(b / 1000).toFixed(3).padStart(10)}             ${(o / 1000).toFixed(3).padStart(10)}              ${(o / b).toFixed(3)}`,
    );
    console.log(
      `tensors after 1 / 6 trials  ${after1.tensors} / ${after6.tensors} (growth ${after6.tensors - after1.tensors})`,
    );
    console.log(
      `RSS after 1 / 6 trials      ${(after1.rss / 2 ** 20).toFixed(0)} MiB / ${(after6.rss / 2 ** 20).toFixed(0)} MiB`,
    );
  } finally {
    tf.dispose([x, y, xv, yv]);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
