/**
 * The "plain user script" row of bench:train, run in its own process: what a TF.js user writes after adding
 * tuneserve — `initBackend()`, a Keras-style model, `compile` with string names, `fit` — and nothing
 * project-specific. Prints one JSON line per epoch ({epoch, seconds, cpu, acc}) and the backend line on stderr.
 * Usage: node plain-user.js <samples> <epochs>
 */
import * as tf from '@tensorflow/tfjs';
import { loadDataset } from '@tuneserve/data';
import { initBackend } from '@tuneserve/runtime';

const samples = Number(process.argv[2] ?? 60_000);
const epochs = Number(process.argv[3] ?? 6);

await initBackend();
const full = (await loadDataset('mnist')).trainFull();
const n = Math.min(samples, full.count);
const x = tf.tensor2d(full.x.subarray(0, n * 784), [n, 784]);
const y = tf.tensor1d(full.y.subarray(0, n), 'float32');

const model = tf.sequential({
  layers: [
    tf.layers.dense({ inputShape: [784], units: 64, activation: 'relu' }),
    tf.layers.dense({ units: 10, activation: 'softmax' }),
  ],
});
model.compile({ optimizer: 'rmsprop', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });

let started = 0;
let cpu = process.cpuUsage();
await model.fit(x, y, {
  epochs,
  batchSize: 128,
  shuffle: true,
  verbose: 0,
  callbacks: {
    onEpochBegin: async () => {
      cpu = process.cpuUsage();
      started = performance.now();
    },
    onEpochEnd: async (epoch, logs) => {
      const seconds = (performance.now() - started) / 1000;
      const used = process.cpuUsage(cpu);
      const line = { epoch, seconds, cpu: (used.user + used.system) / 1e6, acc: logs?.acc ?? Number.NaN };
      console.log(JSON.stringify(line));
    },
  },
});
