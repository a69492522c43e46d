/**
 * measureLatency times the serving path (the one chooseInference picks) and refuses what it cannot time. No timing
 * thresholds here: the figures themselves belong to the benchmarks.
 */
import * as tf from '@tensorflow/tfjs';
import { hostGemm, initBackend, measureLatency } from '@tuneserve/runtime';
import { beforeAll, describe, expect, it } from 'vitest';

beforeAll(async () => {
  await initBackend({ log: false });
});

const cnn = () =>
  tf.sequential({
    layers: [
      tf.layers.reshape({ inputShape: [784], targetShape: [28, 28, 1] }),
      tf.layers.conv2d({ filters: 4, kernelSize: 3, activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });

describe('measureLatency', () => {
  it('times the path the server would take, batch 1 by default, and leaves no tensor behind', () => {
    const model = cnn();
    const before = tf.memory().numTensors;
    const result = measureLatency(model, { runs: 5 });
    expect(result.path).toBe(hostGemm() ? 'host-conv' : 'graph');
    expect(result.runs).toBe(5);
    expect(result.batch).toBe(1);
    expect(Number.isFinite(result.medianMs) && result.medianMs > 0).toBe(true);
    expect(result.minMs).toBeLessThanOrEqual(result.medianMs);
    const graph = measureLatency(model, { runs: 3, batch: 4, host: false });
    expect(graph.path).toBe('graph');
    expect(graph.batch).toBe(4);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('refuses bad counts and models whose example shape is unknown', () => {
    const model = cnn();
    expect(() => measureLatency(model, { runs: 0 })).toThrow(/runs must be an integer >= 1, got 0/);
    expect(() => measureLatency(model, { batch: 1.5 })).toThrow(/batch must be an integer >= 1/);
    expect(() => measureLatency(model, { warmup: -1 })).toThrow(/warmup must be an integer >= 0/);
    const open = tf.sequential({
      layers: [tf.layers.conv2d({ inputShape: [null, null, 1], filters: 2, kernelSize: 3 })],
    });
    expect(() => measureLatency(open)).toThrow(/known example shape/);
    for (const m of [model, open]) m.dispose();
  });
});
