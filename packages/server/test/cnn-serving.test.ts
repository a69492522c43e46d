/**
 * A CNN of the default space's winner shape, served over real HTTP: concurrent requests of different sizes (which the
 * micro-batcher coalesces into batches of varying size on the host conv path) answer what TF.js computes for each
 * request on its own, within 1e-5 and with the same argmax.
 */
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend, ModelRepository } from '@tuneserve/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trainedLookingWeights, winnerCnn } from '../../../test-support/models.js';
import { freshDir } from './fixtures.js';
import { http, type Running, start } from './helpers.js';

let server: Running | undefined;
beforeAll(async () => {
  await initBackend({ log: false });
});
afterAll(async () => {
  await server?.close();
});

describe('serving a CNN', () => {
  it('answers concurrent requests of 1 to 5 images as TF.js computes each on its own', async () => {
    const model = winnerCnn();
    trainedLookingWeights(model);
    const dir = await freshDir('cnn');
    await new ModelRepository(join(dir, 'cnn')).saveVersion(model, {
      name: 'cnn',
      inputShape: [784],
      labels: [...'0123456789'],
    });
    server = await start({ modelDir: join(dir, 'cnn') });

    const requests = Array.from({ length: 40 }, (_, i) =>
      Array.from({ length: 1 + (i % 5) }, () => Array.from({ length: 784 }, () => Math.random())),
    );
    const replies = await Promise.all(
      requests.map((instances) => http(`${server!.url}/v1/models/cnn:predict`, { body: { instances } })),
    );
    const argmax = (row: ArrayLike<number>) => Array.from(row).reduce((b, v, i, a) => (v > a[b]! ? i : b), 0);
    requests.forEach((instances, i) => {
      const reply = replies[i]!;
      expect(reply.status, reply.text).toBe(200);
      const got = (reply.json() as { predictions: number[][] }).predictions;
      const want = tf.tidy(() => model.predict(tf.tensor2d(instances)) as tf.Tensor).arraySync() as number[][];
      expect(got.length).toBe(instances.length);
      got.forEach((row, r) => {
        const expected = want[r]!;
        const worst = Math.max(...row.map((v, j) => Math.abs(v - expected[j]!)));
        expect(worst, `request ${i} row ${r}`).toBeLessThan(1e-5);
        expect(argmax(row)).toBe(argmax(expected));
      });
    });
    model.dispose();
  });
});
