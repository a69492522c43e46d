/**
 * The pure-wasm CNN row of bench:train, in its own process: a user script on a machine without the OpenBLAS addon
 * (the bench sets TUNESERVE_ACCELERATOR=0) — `initBackend()`, the reference CNN, `compile` with string names, `fit`.
 * There `initBackend()` starts tfjs-backend-wasm's threaded build. Prints one JSON line per epoch
 * ({epoch, seconds, cpu, acc}) and the backend line on stderr.
 * Usage: node cnn-user.js <samples> <epochs>
 */
import * as tf from '@tensorflow/tfjs';
import { loadDataset } from '@tuneserve/data';
import { initBackend } from '@tuneserve/runtime';
import { cnn } from './models.js';

const samples = Number(process.argv[2] ?? 6_400);
const epochs = Number(process.argv[3] ?? 5);

await initBackend();
const full = (await loadDataset('mnist')).trainFull();
const n = Math.min(samples, full.count);
const x = tf.tensor4d(full.x.subarray(0, n * 784), [n, 28, 28, 1]);
const y = tf.tensor1d(full.y.subarray(0, n), 'float32');

const model = cnn();
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
      console.log(
        JSON.stringify({ epoch, seconds, cpu: (used.user + used.system) / 1e6, acc: logs?.acc ?? Number.NaN }),
      );
    },
  },
});
