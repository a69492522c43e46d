/**
 * Hot reload under concurrent load (zero failed requests across two swaps), version unloading,
 * serving a converter-style folder without metadata.json, and no tensor leak over many requests.
 */
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { freshDir, image, writeModel } from './fixtures.js';
import { http, type Running, start } from './helpers.js';

const servers: Running[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

const argmax = (p: number[]) => p.indexOf(Math.max(...p));

describe('hot reload', () => {
  it('swaps versions under concurrent load without a failed request', async () => {
    const root = join(await freshDir('reload'), 'mnist');
    await writeModel(join(root, '1'), 'identity');
    const server = await start({ modelDir: root, pollIntervalMs: 50 });
    servers.push(server);
    const baseline = tf.memory().numTensors;

    const answers: number[] = [];
    const failures: string[] = [];
    let stop = false;
    const client = async () => {
      while (!stop) {
        const res = await http(`${server.url}/v1/models/mnist:predict`, { body: { instances: [image(3)] } });
        if (res.status !== 200) failures.push(`${res.status} ${res.text}`);
        else answers.push(argmax((res.json() as { predictions: number[][] }).predictions[0] ?? []));
      }
    };
    const clients = Array.from({ length: 8 }, client);
    const waitFor = async (digit: number) => {
      const from = answers.length;
      while (!answers.slice(from).includes(digit)) await new Promise((r) => setTimeout(r, 20));
    };

    await waitFor(3);
    await writeModel(join(root, '2'), 'reversed'); // 3 -> 6
    await waitFor(6);
    await writeModel(join(root, '3'), 'identity'); // back to 3
    const after = answers.length;
    await waitFor(3);
    // keep the load on for a few more polls so the old version is retired under traffic
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await Promise.all(clients);

    expect(failures).toEqual([]);
    expect(answers.length).toBeGreaterThan(50);
    // once version 3 answered, at most the 8 requests already queued on version 2 may still say 6
    const swapped = answers.indexOf(3, after);
    expect(answers.slice(swapped + 8)).not.toContain(6);
    expect(server.models.get('mnist')?.versions.versions()).toEqual([3]);
    const status = (await http(`${server.url}/v1/models/mnist`)).json() as {
      model_version_status: { version: string; state: string }[];
    };
    expect(status.model_version_status).toEqual([
      { version: '3', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } },
    ]);
    expect((await http(`${server.url}/v1/models/mnist/versions/2`)).status).toBe(404);
    // the retired versions' weights were disposed: same live tensors as with one version loaded
    expect(tf.memory().numTensors).toBe(baseline);
  });

  it('keeps serving the old version when a new one is corrupt', async () => {
    const root = join(await freshDir('corrupt'), 'mnist');
    await writeModel(join(root, '1'), 'identity');
    const server = await start({ modelDir: root, pollIntervalMs: 50 });
    servers.push(server);
    const { mkdir, writeFile } = await import('node:fs/promises');
    await mkdir(join(root, '2'));
    await writeFile(join(root, '2', 'model.json'), '{"modelTopology": ');
    await new Promise((r) => setTimeout(r, 300));
    expect(server.models.get('mnist')?.versions.versions()).toEqual([1]);
    expect((await http(`${server.url}/predict`, { body: { instances: image(1) } })).text).toBe('This number is a 1');
  });

  it('serves a single model folder without metadata.json (labels 0..N-1) and reports not-ready while empty', async () => {
    const dir = join(await freshDir('plain'), 'converted');
    await writeModel(dir, 'reversed', false);
    const server = await start({ modelDir: dir, modelName: 'digits' });
    servers.push(server);
    expect((await http(`${server.url}/predict`, { body: { instances: image(0) } })).text).toBe('This number is a 9');
    const model = (await http(`${server.url}/api/model`)).json() as {
      name: string;
      version: number;
      metadata: { labels: string[] };
    };
    expect(model).toMatchObject({ name: 'digits', version: 1 });
    expect(model.metadata.labels).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);

    const empty = await start({ modelDir: join(await freshDir('empty'), 'none'), pollIntervalMs: 50 });
    servers.push(empty);
    expect((await http(`${empty.url}/v2/health/ready`)).status).toBe(503);
    expect((await http(`${empty.url}/v2/health/live`)).status).toBe(200);
    const res = await http(`${empty.url}/v1/models/none:predict`, { body: { instances: [image(0)] } });
    expect(res.status).toBe(503);
    expect((await http(`${empty.url}/predict`, { body: { instances: image(0) } })).status).toBe(503);
  });
});

describe('memory', () => {
  it('has the same number of live tensors after thousands of requests on every route and error path', async () => {
    const root = join(await freshDir('leak'), 'mnist');
    await writeModel(join(root, '1'), 'identity');
    const server = await start({ modelDir: root, pollIntervalMs: 0 });
    servers.push(server);
    const metricTensors = async () =>
      Number(/tuneserve_tfjs_tensors (\d+)/.exec((await http(`${server.url}/metrics`)).text)?.[1]);
    const before = tf.memory().numTensors;
    expect(await metricTensors()).toBe(before);
    const bodies: [string, unknown][] = [
      ['/predict', JSON.stringify({ instances: image(5) })],
      ['/v1/models/mnist:predict', { instances: [image(1), image(2), image(3)] }],
      ['/v1/models/mnist:predict', { inputs: [image(1)] }],
      ['/v2/models/mnist/infer', { inputs: [{ name: 'x', shape: [1, 784], datatype: 'FP32', data: image(4) }] }],
      ['/v1/models/mnist:predict', { instances: [[1, 2]] }],
      ['/predict', { instances: 'x' }],
    ];
    for (let round = 0; round < 40; round++) {
      await Promise.all(
        Array.from({ length: 24 }, (_, i) => {
          const [path, body] = bodies[i % bodies.length] ?? ['/', undefined];
          return http(`${server.url}${path}`, { body });
        }),
      );
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(await metricTensors()).toBe(before);
  });
});
