/**
 * Many models in one server: a model root whose folders come and go while clients keep asking (no
 * failed request), a YAML model config with version policies and labels, the KServe v2 repository
 * extension (index, load, unload), /api/models, and metrics that carry the model name.
 */
import { cp, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModelConfig } from '../src/index.js';
import { freshDir, image, writeModel } from './fixtures.js';
import { http, type Running, start } from './helpers.js';

const servers: Running[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

const argmax = (p: number[]) => p.indexOf(Math.max(...p));
const predictDigit = async (url: string, model: string, pixel: number, version?: string) => {
  const path = version ? `${model}/versions/${version}` : model;
  const res = await http(`${url}/v1/models/${path}:predict`, { body: { instances: [image(pixel)] } });
  return {
    status: res.status,
    digit: res.status === 200 ? argmax((res.json() as { predictions: number[][] }).predictions[0] ?? []) : -1,
  };
};
const until = async (check: () => Promise<boolean>, what: string) => {
  for (let i = 0; i < 800; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
};

describe('many models', () => {
  it('serves every model under --model-root and follows folders added and removed, without a failed request', async () => {
    const root = await freshDir('root');
    await writeModel(join(root, 'alpha', '1'), 'identity');
    await writeModel(join(root, 'beta', '1'), 'reversed');
    const server = await start({ modelRoot: root, pollIntervalMs: 40 });
    servers.push(server);

    expect(await predictDigit(server.url, 'alpha', 3)).toEqual({ status: 200, digit: 3 });
    expect(await predictDigit(server.url, 'beta', 3)).toEqual({ status: 200, digit: 6 });
    expect((await predictDigit(server.url, 'gamma', 3)).status).toBe(404);

    // Clients keep asking alpha and beta while gamma appears and beta is removed.
    const failures: string[] = [];
    let stop = false;
    const client = async (model: string) => {
      while (!stop) {
        const r = await predictDigit(server.url, model, 2);
        if (r.status !== 200) failures.push(`${model}: ${r.status}`);
      }
    };
    const clients = [client('alpha'), client('alpha'), client('beta')];
    try {
      const staging = await freshDir('staging');
      await writeModel(join(staging, '1'), 'reversed');
      await mkdir(join(root, 'gamma'));
      await cp(join(staging, '1'), join(root, 'gamma', '1'), { recursive: true });
      await until(async () => (await predictDigit(server.url, 'gamma', 1)).status === 200, 'gamma to load');
    } finally {
      stop = true;
      await Promise.all(clients);
    }
    expect(await predictDigit(server.url, 'gamma', 1)).toEqual({ status: 200, digit: 8 });
    expect(failures).toEqual([]);

    await rm(join(root, 'beta'), { recursive: true });
    await until(async () => (await predictDigit(server.url, 'beta', 1)).status === 404, 'beta to go');
    // The root itself unreadable (moved away and back): the loaded models stay, nothing is dropped.
    await rename(root, `${root}.away`);
    await new Promise((r) => setTimeout(r, 200));
    expect(await predictDigit(server.url, 'alpha', 6)).toEqual({ status: 200, digit: 6 });
    await rename(`${root}.away`, root);
    expect(await predictDigit(server.url, 'alpha', 4)).toEqual({ status: 200, digit: 4 });

    const models = (await http(`${server.url}/api/models`)).json() as {
      models: { name: string; ready: boolean; version: number; input: { kind: string }; output: { task: string } }[];
    };
    expect(models.models.map((m) => [m.name, m.ready, m.version, m.input.kind, m.output.task])).toEqual([
      ['alpha', true, 1, 'tensor', 'classification'],
      ['gamma', true, 1, 'tensor', 'classification'],
    ]);
    const v2 = (await http(`${server.url}/v2/models`)).json() as { models: { name: string }[] };
    expect(v2.models.map((m) => m.name)).toEqual(['alpha', 'gamma']);

    // Metrics and their model label.
    const metrics = (await http(`${server.url}/metrics`)).text;
    expect(metrics).toMatch(/tuneserve_model_examples_total\{model="alpha"\} \d+/);
    expect(metrics).toMatch(/tuneserve_model_examples_total\{model="gamma"\} \d+/);
    expect(metrics).toMatch(/tuneserve_model_version\{model="gamma"\} 1/);
  });

  it('reads a YAML model config: version policies, labels, and --model beside it', async () => {
    const dir = await freshDir('config');
    for (const v of ['1', '2', '3']) await writeModel(join(dir, 'every', v), v === '2' ? 'reversed' : 'identity');
    for (const v of ['1', '2', '3']) await writeModel(join(dir, 'picked', v), v === '3' ? 'reversed' : 'identity');
    await writeFile(
      join(dir, 'models.yaml'),
      [
        'models:',
        '  - name: every',
        '    base_path: every',
        '    version_policy: { all: true }',
        '    labels: { stable: 2 }',
        '  - name: picked',
        '    base_path: picked',
        '    version_policy:',
        '      specific: [1, 3]',
      ].join('\n'),
    );
    const specs = await loadModelConfig(join(dir, 'models.yaml'));
    expect(specs.map((s) => [s.name, s.versionPolicy])).toEqual([
      ['every', { all: true }],
      ['picked', { specific: [1, 3] }],
    ]);
    await writeModel(join(dir, 'solo', '1'), 'reversed');
    const server = await start({ models: specs, modelDir: join(dir, 'solo'), modelName: 'mnist', pollIntervalMs: 0 });
    servers.push(server);

    expect(await predictDigit(server.url, 'every', 1, '1')).toEqual({ status: 200, digit: 1 });
    expect(await predictDigit(server.url, 'every', 1, '2')).toEqual({ status: 200, digit: 8 });
    expect(await predictDigit(server.url, 'every', 1)).toEqual({ status: 200, digit: 1 });
    const labelled = await http(`${server.url}/v1/models/every/labels/stable:predict`, {
      body: { instances: [image(1)] },
    });
    expect(argmax((labelled.json() as { predictions: number[][] }).predictions[0] ?? [])).toBe(8);
    expect(await predictDigit(server.url, 'picked', 1, '3')).toEqual({ status: 200, digit: 8 });
    expect((await predictDigit(server.url, 'picked', 1, '2')).status).toBe(404);
    // The reference route answers with the default model, named mnist here.
    const reference = await http(`${server.url}/predict`, { body: { instances: image(2) } });
    expect(reference.text).toBe('This number is a 7');
  });

  it('names the entry and field of a bad model config', async () => {
    const dir = await freshDir('badconfig');
    const cases: [string, RegExp][] = [
      ['{"models": []}', /at least one model/],
      ['{"models": [{"name": "a b", "base_path": "x"}]}', /models\[0\]\.name must match/],
      [
        '{"models": [{"name": "a", "base_path": "x", "version_policy": {"latest": 0}}]}',
        /models\[0\]\.version_policy\.latest must be a positive integer/,
      ],
      ['{"models": [{"name": "a", "base_path": "x", "version_policy": {"newest": 2}}]}', /unknown policy "newest"/],
      [
        '{"models": [{"name": "a", "base_path": "x"}, {"name": "a", "base_path": "y"}]}',
        /models\[1\]\.name: model "a" is listed twice/,
      ],
      ['{"models": [{"name": "a", "base_path": "x", "lables": {}}]}', /unknown field "lables"/],
      [
        '{"models": [{"name": "a", "base_path": "x", "labels": {"stable": "two"}}]}',
        /labels\.stable must be a positive integer/,
      ],
      ['{"models": [', /not valid JSON/],
    ];
    for (const [text, message] of cases) {
      const file = join(dir, 'models.json');
      await writeFile(file, text);
      await expect(loadModelConfig(file)).rejects.toThrow(message);
    }
  });

  it('KServe v2 repository extension: index always, load and unload only with model control', async () => {
    const root = await freshDir('repo');
    await writeModel(join(root, 'alpha', '1'), 'identity');
    await writeModel(join(root, 'beta', '1'), 'reversed');
    await mkdir(join(root, 'empty'));
    const locked = await start({ modelRoot: root, pollIntervalMs: 0 });
    servers.push(locked);
    const index = (await http(`${locked.url}/v2/repository/index`, { body: {} })).json();
    expect(index).toEqual([
      { name: 'alpha', version: '1', state: 'READY', reason: '' },
      { name: 'beta', version: '1', state: 'READY', reason: '' },
      { name: 'empty', state: 'UNAVAILABLE', reason: 'no version found yet' },
    ]);
    const ready = (await http(`${locked.url}/v2/repository/index`, { body: { ready: true } })).json() as unknown[];
    expect(ready).toHaveLength(2);
    const refused = await http(`${locked.url}/v2/repository/models/beta/unload`, { method: 'POST' });
    expect(refused.status).toBe(403);
    expect((refused.json() as { error: string }).error).toMatch(/model control/);

    const server = await start({ modelRoot: root, pollIntervalMs: 0, modelControl: true });
    servers.push(server);
    expect((await http(`${server.url}/v2/repository/models/beta/unload`, { method: 'POST' })).status).toBe(200);
    expect((await predictDigit(server.url, 'beta', 1)).status).toBe(404);
    expect((await http(`${server.url}/v2/models/beta/ready`)).status).toBe(404);
    expect((await http(`${server.url}/v2/repository/index`, { body: {} })).json()).toContainEqual({
      name: 'beta',
      state: 'UNAVAILABLE',
      reason: 'unloaded',
    });
    expect((await http(`${server.url}/v2/repository/models/beta/unload`, { method: 'POST' })).status).toBe(404);
    expect((await http(`${server.url}/v2/repository/models/nosuch/load`, { method: 'POST' })).status).toBe(404);
    expect((await http(`${server.url}/v2/repository/models/beta/load`, { method: 'POST' })).status).toBe(200);
    expect(await predictDigit(server.url, 'beta', 1)).toEqual({ status: 200, digit: 8 });
    expect((await http(`${server.url}/v2/models/beta/ready`)).json()).toEqual({ name: 'beta', ready: true });
  });

  it('keeps the API key on every new route', async () => {
    const root = await freshDir('keys');
    await writeModel(join(root, 'alpha', '1'), 'identity');
    const server = await start({ modelRoot: root, pollIntervalMs: 0, modelControl: true, apiKeys: ['k1'] });
    servers.push(server);
    for (const [method, path] of [
      ['GET', '/api/models'],
      ['GET', '/api/models/alpha'],
      ['POST', '/v2/repository/index'],
      ['POST', '/v2/repository/models/alpha/load'],
      ['POST', '/v2/repository/models/alpha/unload'],
    ] as const) {
      const res = await http(`${server.url}${path}`, { method });
      expect(res.status, `${method} ${path}`).toBe(401);
    }
    expect((await http(`${server.url}/api/models`, { headers: { 'x-api-key': 'k1' } })).status).toBe(200);
  });
});
