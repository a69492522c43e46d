/**
 * A request with many more examples than --max-batch runs as model calls of at most a batch, and the event loop
 * serves other requests between them: a health probe and a small prediction sent once the large request has
 * started are answered while most of its batches are still to come. Measured in batches (the server's own
 * batch counter), not in milliseconds.
 */
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { saveLayersModel } from '@tuneserve/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDir } from './fixtures.js';
import { http, type Running, start } from './helpers.js';

const FEATURES = 8;
const MAX_BATCH = 8;
const EXAMPLES = 512; // 64 batches
let server: Running;

beforeAll(async () => {
  const modelDir = join(await freshDir('large-request'), 'wide');
  // Wide enough that one batch is real work (2 x 2048 units), small enough that 512 examples take seconds at most.
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ units: 2048, inputShape: [FEATURES], activation: 'relu' }),
      tf.layers.dense({ units: 2048, activation: 'relu' }),
      tf.layers.dense({ units: 4, activation: 'softmax' }),
    ],
  });
  await saveLayersModel(model, join(modelDir, '1'));
  model.dispose();
  server = await start({ modelDir, maxBatchSize: MAX_BATCH, maxInstances: 4096 });
});
afterAll(async () => server?.close());

/** Model calls so far, from the server's batch-size histogram. */
async function batches(): Promise<number> {
  const { values } = await server.metrics.batchSize.get();
  return values.filter((v) => v.metricName === 'tuneserve_batch_size_count').reduce((n, v) => n + v.value, 0);
}

const rows = (n: number) =>
  Array.from({ length: n }, (_, i) => Array.from({ length: FEATURES }, (_, j) => (i + j) % 3));

describe('a request larger than --max-batch', () => {
  it('does not stall health probes or other requests for more than a batch or so', async () => {
    const before = await batches();
    const large = http(`${server.url}/v1/models/wide:predict`, { body: { instances: rows(EXAMPLES) } });
    let largeDone = false;
    void large.then(() => {
      largeDone = true;
    });
    // Wait until the large request is being computed: its first batch has run.
    while ((await batches()) === before) await new Promise((r) => setImmediate(r));
    const started = (await batches()) - before;

    const probe = await http(`${server.url}/v2/health/ready`);
    const afterProbe = (await batches()) - before;
    const small = await http(`${server.url}/v1/models/wide:predict`, { body: { instances: rows(1) } });
    const afterSmall = (await batches()) - before;

    expect(probe.status).toBe(200);
    expect(small.status).toBe(200);
    expect(largeDone, 'the large request finished before the probe was answered').toBe(false);
    // Both answered within a few of the large request's 64 batches (the small one adds one batch of its own).
    expect(afterProbe - started).toBeLessThanOrEqual(8);
    expect(afterSmall - afterProbe).toBeLessThanOrEqual(8);

    const res = await large;
    expect(res.status).toBe(200);
    const { predictions } = res.json() as { predictions: number[][] };
    expect(predictions).toHaveLength(EXAMPLES);
    expect((await batches()) - before).toBe(EXAMPLES / MAX_BATCH + 1);
  });

  it('answers the same numbers as one request per batch', async () => {
    const input = rows(3 * MAX_BATCH + 5);
    const whole = (await http(`${server.url}/v1/models/wide:predict`, { body: { instances: input } })).json() as {
      predictions: number[][];
    };
    const pieces: number[][] = [];
    for (let i = 0; i < input.length; i += MAX_BATCH) {
      const part = await http(`${server.url}/v1/models/wide:predict`, {
        body: { instances: input.slice(i, i + MAX_BATCH) },
      });
      pieces.push(...(part.json() as { predictions: number[][] }).predictions);
    }
    expect(whole.predictions).toEqual(pieces);
  });
});
