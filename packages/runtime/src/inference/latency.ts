/**
 * A model's inference latency as the server would see it: the same path `chooseInference` picks for serving (host
 * plan, TF.js Dense plan or the graph), timed on batches of fixed size. Used by the tuner's `latency_ms` metric, so a
 * search that minimises latency ranks models by what serving them costs, not by `model.predict`'s overheads.
 */
import type * as tf from '@tensorflow/tfjs';
import { chooseInference, type InferencePath } from './choose.js';

export interface LatencyOptions {
  /** Timed calls (default 30); the median is reported. */
  runs?: number;
  /** Untimed calls first (default 3): the first calls size the host plan's workspace and warm caches. */
  warmup?: number;
  /** Examples per call (default 1). */
  batch?: number;
  /** One example's shape; default the model's input shape without the batch axis (it must be fully known). */
  exampleShape?: number[];
  /** false: skip the host plans (as the server does when the OpenBLAS addon is absent). */
  host?: boolean;
}

export interface LatencyResult {
  /** The serving path the model takes. */
  path: InferencePath;
  /** Median wall time of one call, in milliseconds. */
  medianMs: number;
  /** Fastest call, in milliseconds. */
  minMs: number;
  runs: number;
  batch: number;
}

const positiveInt = (name: string, value: number): number => {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be an integer >= 1, got ${value}`);
  return value;
};

/** Times `runs` calls of the model's serving path on a fixed pseudo-random batch. */
export function measureLatency(model: tf.LayersModel, options: LatencyOptions = {}): LatencyResult {
  const runs = positiveInt('runs', options.runs ?? 30);
  const warmup = options.warmup ?? 3;
  if (!Number.isInteger(warmup) || warmup < 0) throw new RangeError(`warmup must be an integer >= 0, got ${warmup}`);
  const batch = positiveInt('batch', options.batch ?? 1);
  const shape = options.exampleShape ?? model.inputs[0]?.shape.slice(1);
  if (model.inputs.length !== 1 || !shape || shape.some((d) => d === null || d < 1)) {
    throw new RangeError(
      `measureLatency needs one input with a known example shape, got ${JSON.stringify(model.inputs.map((i) => i.shape))}`,
    );
  }
  const exampleShape = shape as number[];
  const inference = chooseInference(model, exampleShape, options.host === false ? { host: false } : {});
  const size = exampleShape.reduce((a, b) => a * b, 1) * batch;
  // deterministic values in [0, 1): relu and max pooling see a realistic mix, and runs are comparable
  const input = new Float32Array(size);
  let state = 0x9e3779b9;
  for (let i = 0; i < size; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    input[i] = state / 2 ** 32;
  }
  for (let i = 0; i < warmup; i++) inference.run([input], batch);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    inference.run([input], batch);
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  const mid = times.length >> 1;
  const medianMs = times.length % 2 === 1 ? times[mid]! : (times[mid - 1]! + times[mid]!) / 2;
  return { path: inference.path, medianMs, minMs: times[0]!, runs, batch };
}
