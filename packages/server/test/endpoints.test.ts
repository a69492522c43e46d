/** Every endpoint and format over real HTTP on 127.0.0.1, with two loaded versions. */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SampleSource, StudyJson, StudySource } from '../src/index.js';
import { freshDir, image, writeModel } from './fixtures.js';
import { http, type Running, start } from './helpers.js';

let server: Running;
let root: string;
let study: StudyJson | undefined;

const samples: SampleSource = {
  size: 10,
  sample: (index) => ({ index, label: index, instances: image(index) }),
};
const studySource: StudySource = { getStudy: async () => study };

beforeAll(async () => {
  root = await freshDir('endpoints');
  await writeModel(join(root, 'mnist', '1'), 'identity');
  await writeModel(join(root, 'mnist', '2'), 'reversed');
  const web = join(root, 'web');
  await writeModel(join(root, 'unused'), 'identity', false);
  await import('node:fs/promises').then((fs) => fs.mkdir(web, { recursive: true }));
  await writeFile(join(web, 'index.html'), '<!doctype html><title>tuneserve</title>');
  server = await start({
    modelDir: join(root, 'mnist'),
    keepVersions: 2,
    labels: { stable: 1 },
    samples,
    study: studySource,
    studyPollMs: 50,
    webRoot: web,
  });
});
afterAll(async () => server?.close());

describe('reference /predict', () => {
  it('answers the reference client’s exact bytes (a JSON string holding the document)', async () => {
    const raw = await readFile(join(import.meta.dirname, 'golden', 'reference-request.body'), 'utf8');
    expect(raw.startsWith('"{\\"instances\\": [0.0, 0.0, 0.0, 1.0')).toBe(true);
    const res = await http(`${server.url}/predict`, { raw });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    // version 2 (reversed) is the latest: pixel 3 lit means 9 - 3 = 6
    expect(res.text).toBe('This number is a 6');
  });

  it('accepts the plain object with flat, [[784]] and 28x28 instances', async () => {
    const flat = image(4);
    const nested = Array.from({ length: 28 }, (_, r) => flat.slice(r * 28, r * 28 + 28));
    for (const instances of [flat, [flat], nested, [nested]]) {
      const res = await http(`${server.url}/predict`, { body: { instances } });
      expect(res.text).toBe('This number is a 5');
    }
  });

  it('rejects wrong sizes and missing instances with a 400 JSON error', async () => {
    const short = await http(`${server.url}/predict`, { body: { instances: [1, 2, 3] } });
    expect(short.status).toBe(400);
    expect((short.json() as { error: string }).error).toMatch(/instances has shape \[3\].*784/);
    const missing = await http(`${server.url}/predict`, { body: JSON.stringify({ images: [] }) });
    expect(missing.status).toBe(400);
    expect((missing.json() as { error: string }).error).toMatch(/missing "instances"/);
    const notJson = await http(`${server.url}/predict`, { body: '{"instances": [1, 2' });
    expect(notJson.status).toBe(400);
    const evil = await http(`${server.url}/predict`, { body: '__import__("os").system("true")' });
    expect(evil.status).toBe(400);
  });
});

describe('TensorFlow Serving REST', () => {
  it('predicts in row format with the latest, a version and a label', async () => {
    const latest = await http(`${server.url}/v1/models/mnist:predict`, { body: { instances: [image(1), image(2)] } });
    expect(latest.status).toBe(200);
    const preds = (latest.json() as { predictions: number[][] }).predictions;
    expect(preds).toHaveLength(2);
    expect(preds[0]).toHaveLength(10);
    expect(preds[0]?.indexOf(Math.max(...(preds[0] ?? [])))).toBe(8);
    expect(preds[1]?.indexOf(Math.max(...(preds[1] ?? [])))).toBe(7);
    expect((preds[0] ?? []).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);

    const v1 = await http(`${server.url}/v1/models/mnist/versions/1:predict`, { body: { instances: [image(1)] } });
    const p1 = (v1.json() as { predictions: number[][] }).predictions[0] ?? [];
    expect(p1.indexOf(Math.max(...p1))).toBe(1);
    const stable = await http(`${server.url}/v1/models/mnist/labels/stable:predict`, {
      body: { signature_name: 'serving_default', instances: [image(2)] },
    });
    const ps = (stable.json() as { predictions: number[][] }).predictions[0] ?? [];
    expect(ps.indexOf(Math.max(...ps))).toBe(2);
  });

  it('accepts named row objects and the columnar format', async () => {
    const named = await http(`${server.url}/v1/models/mnist:predict`, {
      body: { instances: [{ digits_input: image(0) }] },
    });
    expect(named.status).toBe(200);
    const columnar = await http(`${server.url}/v1/models/mnist:predict`, { body: { inputs: [image(9)] } });
    const out = (columnar.json() as { outputs: number[][] }).outputs[0] ?? [];
    expect(out.indexOf(Math.max(...out))).toBe(0);
    const columnarNamed = await http(`${server.url}/v1/models/mnist:predict`, {
      body: { inputs: { digits_input: [image(9)] } },
    });
    expect(columnarNamed.status).toBe(200);
  });

  it('answers model status and metadata', async () => {
    const status = await http(`${server.url}/v1/models/mnist`);
    expect(status.json()).toEqual({
      model_version_status: [
        { version: '2', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } },
        { version: '1', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } },
      ],
    });
    const one = await http(`${server.url}/v1/models/mnist/versions/1`);
    expect((one.json() as { model_version_status: unknown[] }).model_version_status).toHaveLength(1);
    const meta = (await http(`${server.url}/v1/models/mnist/metadata`)).json() as {
      model_spec: { version: string };
      metadata: {
        signature_def: { signature_def: Record<string, { inputs: Record<string, { tensor_shape: unknown }> }> };
      };
    };
    expect(meta.model_spec.version).toBe('2');
    const sig = meta.metadata.signature_def.signature_def.serving_default;
    expect(Object.values(sig?.inputs ?? {})[0]?.tensor_shape).toEqual({
      dim: [
        { size: '-1', name: '' },
        { size: '784', name: '' },
      ],
      unknown_rank: false,
    });
  });

  it('maps errors to TF Serving codes', async () => {
    const cases: [string, unknown, number, RegExp][] = [
      ['/v1/models/half:predict', { instances: [image(0)] }, 404, /Servable not found for request: Latest\(half\)/],
      ['/v1/models/mnist/versions/7:predict', { instances: [image(0)] }, 404, /Specific\(mnist, 7\)/],
      ['/v1/models/mnist/labels/canary:predict', { instances: [image(0)] }, 404, /label: canary/],
      ['/v1/models/mnist:predict', { instances: image(0) }, 400, /wrap it in a list/],
      ['/v1/models/mnist:predict', { instances: [image(0)], inputs: [image(0)] }, 400, /both/],
      ['/v1/models/mnist:predict', {}, 400, /missing "instances"/],
      ['/v1/models/mnist:predict', { signature_name: 'other', instances: [image(0)] }, 400, /signature name/],
      [
        '/v1/models/mnist:predict',
        { instances: [[...image(0).slice(1), 'x']] },
        400,
        /instances\[0\]\[783\] is a string/,
      ],
      ['/v1/models/mnist:predict', { instances: [image(0), image(0).slice(1)] }, 400, /rectangular/],
      ['/v1/models/mnist:predict', { instances: [image(0, 1e39)] }, 400, /float32 range/],
      ['/v1/models/mnist:predict', { instances: [] }, 400, /empty list/],
      ['/v1/models/mnist:predict', { instances: [{ b64: 'AAAA' }] }, 400, /b64/],
      ['/v1/models/mnist:predict', { instances: [{ a: image(0), b: image(0) }] }, 400, /exactly one key/],
      ['/v1/models/mnist:classify', { examples: [] }, 400, /empty/],
      ['/v1/models/mnist:explain', { instances: [] }, 404, /unknown verb/],
    ];
    for (const [path, body, status, message] of cases) {
      const res = await http(`${server.url}${path}`, { body });
      expect(res.status, path).toBe(status);
      expect((res.json() as { error: string }).error, path).toMatch(message);
    }
    const nan = await http(`${server.url}/v1/models/mnist:predict`, {
      raw: `{"instances": [[NaN${',0'.repeat(783)}]]}`,
    });
    expect(nan.status).toBe(400);
  });
});

describe('KServe v2', () => {
  it('reports health, server and model metadata and readiness', async () => {
    expect((await http(`${server.url}/v2/health/live`)).json()).toEqual({ live: true });
    expect((await http(`${server.url}/v2/health/ready`)).json()).toEqual({ ready: true });
    expect(((await http(`${server.url}/v2`)).json() as { name: string }).name).toBe('tuneserve');
    const meta = (await http(`${server.url}/v2/models/mnist`)).json() as Record<string, unknown>;
    expect(meta).toMatchObject({
      name: 'mnist',
      versions: ['1', '2'],
      inputs: [{ datatype: 'FP32', shape: [-1, 784] }],
      outputs: [{ datatype: 'FP32', shape: [-1, 10] }],
    });
    expect((await http(`${server.url}/v2/models/mnist/versions/1/ready`)).json()).toEqual({
      name: 'mnist',
      ready: true,
    });
    const unknown = await http(`${server.url}/v2/models/nope/ready`);
    expect(unknown.status).toBe(404);
    expect(unknown.json()).toEqual({ error: 'Model with name nope does not exist.' });
  });

  it('infers with flat and nested data', async () => {
    const flat = await http(`${server.url}/v2/models/mnist/infer`, {
      body: {
        id: 'r1',
        inputs: [{ name: 'digits_input', shape: [2, 784], datatype: 'FP32', data: [...image(0), ...image(5)] }],
      },
    });
    expect(flat.status).toBe(200);
    const body = flat.json() as { id: string; model_version: string; outputs: { shape: number[]; data: number[] }[] };
    expect(body.id).toBe('r1');
    expect(body.model_version).toBe('2');
    expect(body.outputs[0]?.shape).toEqual([2, 10]);
    const data = body.outputs[0]?.data ?? [];
    expect(data.slice(0, 10).indexOf(Math.max(...data.slice(0, 10)))).toBe(9);
    expect(data.slice(10).indexOf(Math.max(...data.slice(10)))).toBe(4);
    const nested = await http(`${server.url}/v2/models/mnist/versions/1/infer`, {
      body: { inputs: [{ name: 'digits_input', shape: [1, 28, 28], datatype: 'FP32', data: [image(7)] }] },
    });
    const out = (nested.json() as { outputs: { data: number[] }[] }).outputs[0]?.data ?? [];
    expect(out.indexOf(Math.max(...out))).toBe(7);
  });

  it('rejects bad infer requests with 400', async () => {
    const bad: [unknown, RegExp][] = [
      [{ inputs: [{ name: 'digits_input', shape: [1, 784], datatype: 'INT8', data: image(0) }] }, /FP32/],
      [{ inputs: [{ name: 'digits_input', shape: [2, 784], datatype: 'FP32', data: image(0) }] }, /needs 1568/],
      [
        { inputs: [{ name: 'digits_input', shape: [1, 783], datatype: 'FP32', data: image(0) }] },
        /expected \[batch, 784\]/,
      ],
      [{ inputs: [{ name: 7, shape: [1, 784], datatype: 'FP32', data: image(0) }] }, /name must be a string/],
      [{ inputs: 'x' }, /invalid request|expected a list/],
      [{}, /inputs/],
    ];
    for (const [body, message] of bad) {
      const res = await http(`${server.url}/v2/models/mnist/infer`, { body });
      expect(res.status).toBe(400);
      expect((res.json() as { error: string }).error).toMatch(message);
    }
  });
});

describe('web API, metrics, docs, static', () => {
  it('serves the model description, samples and the study', async () => {
    const model = (await http(`${server.url}/api/model`)).json() as {
      name: string;
      version: number;
      versions: number[];
      metadata: { labels: string[] };
    };
    expect(model).toMatchObject({ name: 'mnist', version: 2, versions: [1, 2] });
    expect(model.metadata.labels).toHaveLength(10);
    const sample = (await http(`${server.url}/api/samples/3`)).json() as {
      index: number;
      label: number;
      instances: number[];
    };
    expect(sample).toMatchObject({ index: 3, label: 3 });
    expect(sample.instances).toHaveLength(784);
    expect((await http(`${server.url}/api/samples/random`)).status).toBe(200);
    expect((await http(`${server.url}/api/samples/10`)).status).toBe(404);
    expect((await http(`${server.url}/api/samples/-1`)).status).toBe(400);
    study = undefined;
    expect((await http(`${server.url}/api/study`)).status).toBe(404);
    study = { name: 's', tuner: 'random', objective: { name: 'val_acc', direction: 'max' }, maxTrials: 2, trials: [] };
    expect((await http(`${server.url}/api/study`)).json()).toEqual(study);
  });

  it('streams study changes as server-sent events', async () => {
    study = { name: 's', tuner: 'random', objective: { name: 'val_acc', direction: 'max' }, maxTrials: 2, trials: [] };
    const res = await fetch(`${server.url}/api/study/events`);
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let seen = '';
    const events = () => seen.split('\n\n').filter((e) => e.startsWith('event: study'));
    while (events().length < 1) seen += decoder.decode((await reader.read()).value);
    study = { ...study, maxTrials: 3 };
    while (events().length < 2) seen += decoder.decode((await reader.read()).value);
    expect(JSON.parse(events()[1]?.split('data: ')[1] ?? '')).toMatchObject({ maxTrials: 3 });
    await reader.cancel();
  });

  it('exposes Prometheus metrics with routes, batches, version and tensor count', async () => {
    const text = (await http(`${server.url}/metrics`)).text;
    expect(text).toMatch(/tuneserve_http_requests_total\{method="POST",route="\/predict",status="200"\} \d+/);
    expect(text).toMatch(/tuneserve_http_request_duration_seconds_bucket/);
    expect(text).toMatch(/tuneserve_batch_size_count\{model="mnist"\} \d+/);
    expect(text).toMatch(/tuneserve_model_version\{model="mnist"\} 2/);
    expect(text).toMatch(/tuneserve_tfjs_tensors \d+/);
  });

  it('describes the API in OpenAPI 3 and serves the docs page and the web root', async () => {
    const spec = (await http(`${server.url}/openapi.json`)).json() as {
      openapi: string;
      paths: Record<string, unknown>;
    };
    expect(spec.openapi).toMatch(/^3\./);
    for (const path of ['/predict', '/v1/models/{target}', '/v2/models/{name}/infer', '/api/study', '/metrics']) {
      expect(Object.keys(spec.paths)).toContain(path);
    }
    expect((await http(`${server.url}/docs`)).status).toBe(200);
    const page = await http(`${server.url}/`);
    expect(page.text).toContain('<title>tuneserve</title>');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    // API answers carry OWASP's REST set instead of the page set
    const api = await http(`${server.url}/v2/health/live`);
    expect(api.headers.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'");
    expect(api.headers.get('x-content-type-options')).toBe('nosniff');
    expect(api.headers.get('cache-control')).toBe('no-store');
    expect(api.headers.get('x-frame-options')).toBe('DENY');
    expect(api.headers.get('cross-origin-opener-policy')).toBeNull();
  });

  it('answers unknown routes, wrong content types and request ids cleanly', async () => {
    const missing = await http(`${server.url}/nope`);
    expect(missing.status).toBe(404);
    expect(missing.json()).toEqual({ error: 'no route for GET /nope' });
    const text = await http(`${server.url}/predict`, { raw: '<a/>', headers: { 'content-type': 'application/xml' } });
    expect(text.status).toBe(415);
    const withId = await http(`${server.url}/v2/health/live`, { headers: { 'x-request-id': 'abc-123' } });
    expect(withId.headers.get('x-request-id')).toBe('abc-123');
  });
});
