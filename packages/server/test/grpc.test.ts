/**
 * KServe v2 over gRPC, driven by a real Python client (grpcio, the proto compiled at test time with
 * grpc_tools.protoc): health, metadata, ModelReady, ModelInfer with contents and with
 * raw_input_contents for a plain-tensor, a tabular and an image model, the same answers as REST,
 * the API key on every method that is not open, and clear status codes for bad requests.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GRPC_AUTH } from '../src/index.js';
import { freshDir, image, writeModel } from './fixtures.js';
import { http, type Running, start } from './helpers.js';
import { png, writePrice, writeShade, writeWine } from './schema-fixtures.js';

const PYTHON = '/usr/bin/python3';
const CLIENT = fileURLToPath(new URL('./grpc/client.py', import.meta.url));
const PROTO_DIR = fileURLToPath(new URL('../proto', import.meta.url));
const KEY = 'grpc-test-key';
const auth = [['authorization', `Bearer ${KEY}`]];

interface StreamAnswer {
  error_message: string;
  response: { id?: string; model_name?: string; model_version?: string };
  raw_fp32: number[][];
}

interface CallResult {
  code: string;
  details?: string;
  trailers?: Record<string, string>;
  responses?: StreamAnswer[];
  response?: Record<string, unknown> & {
    outputs?: { name: string; shape: string[]; contents?: { fp32_contents?: number[] } }[];
  };
  raw_fp32?: number[][];
}

let server: Running;
let address: string;
beforeAll(async () => {
  const root = await freshDir('grpc');
  await writeModel(join(root, 'mnist', '1'), 'identity');
  await writeWine(root);
  await writePrice(root);
  await writeShade(root);
  server = await start({ modelRoot: root, pollIntervalMs: 0, grpcPort: 0, apiKeys: [KEY], maxInstances: 8 });
  address = server.grpcAddress() ?? '';
});
afterAll(async () => {
  await server?.close();
});

function runClient(calls: unknown[], at = address): Promise<CallResult[]> {
  const plan = JSON.stringify({ address: at, proto: PROTO_DIR, calls });
  return new Promise((resolve, reject) => {
    const child = execFile(
      PYTHON,
      [CLIENT],
      { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`python client failed: ${err.message}\n${stderr}`));
        else resolve(JSON.parse(stdout) as CallResult[]);
      },
    );
    child.stdin?.end(plan);
  });
}

const rest = async (path: string, body: unknown) =>
  (await http(`${server.url}${path}`, { body, headers: { 'x-api-key': KEY } })).json() as {
    outputs: { data: number[] }[];
  };
const close = (a: number[], b: number[]) => {
  expect(a).toHaveLength(b.length);
  for (const [i, v] of a.entries()) expect(v).toBeCloseTo(b[i] ?? Number.NaN, 5);
};

describe('KServe v2 gRPC with a real Python client', () => {
  it('health, metadata and readiness', async () => {
    const [live, ready, meta, modelReady, missing, modelMeta, wineMeta] = await runClient([
      { method: 'ServerLive' },
      { method: 'ServerReady' },
      { method: 'ServerMetadata' },
      { method: 'ModelReady', request: { name: 'mnist' }, metadata: auth },
      { method: 'ModelReady', request: { name: 'nosuch' }, metadata: auth },
      { method: 'ModelMetadata', request: { name: 'mnist' }, metadata: auth },
      { method: 'ModelMetadata', request: { name: 'wine', version: '1' }, metadata: auth },
    ]);
    expect(live).toMatchObject({ code: 'OK', response: { live: true } });
    expect(ready).toMatchObject({ code: 'OK', response: { ready: true } });
    expect(meta?.response).toMatchObject({ name: 'tuneserve', extensions: ['model_repository'] });
    expect(modelReady).toMatchObject({ code: 'OK', response: { ready: true } });
    expect(missing?.code).toBe('NOT_FOUND');
    expect(modelMeta?.response).toMatchObject({
      name: 'mnist',
      versions: ['1'],
      inputs: [{ datatype: 'FP32', shape: ['-1', '784'] }],
      outputs: [{ datatype: 'FP32', shape: ['-1', '10'] }],
    });
    expect(
      ((wineMeta?.response?.inputs ?? []) as { name: string; datatype: string }[]).map((i) => [i.name, i.datatype]),
    ).toEqual([
      ['alcohol', 'FP32'],
      ['colour', 'BYTES'],
    ]);
  });

  it('ModelInfer answers as REST does: contents and raw_input_contents, tensor, tabular and image models', async () => {
    const pixels = [...image(3), ...image(8)];
    const light = (await png(16, 16, 220)).toString('base64');
    const dark = (await png(16, 16, 30)).toString('base64');
    const wineOutput = ((await rest('/v2/models/wine', undefined)) as unknown as { outputs: { name: string }[] })
      .outputs[0]?.name;
    const results = await runClient([
      {
        method: 'ModelInfer',
        metadata: auth,
        request: {
          model_name: 'mnist',
          id: 'contents',
          inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 784], contents: { fp32_contents: pixels } }],
        },
      },
      {
        method: 'ModelInfer',
        metadata: auth,
        request: {
          model_name: 'mnist',
          model_version: '1',
          inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 784] }],
        },
        raw: [{ fp32: pixels }],
      },
      {
        method: 'ModelInfer',
        metadata: auth,
        request: {
          model_name: 'wine',
          inputs: [
            { name: 'alcohol', datatype: 'FP32', shape: [2], contents: { fp32_contents: [14, 12] } },
            {
              name: 'colour',
              datatype: 'BYTES',
              shape: [2],
              contents: { bytes_contents: [btoa('red'), btoa('white')] },
            },
          ],
        },
      },
      {
        method: 'ModelInfer',
        metadata: auth,
        request: { model_name: 'shade', inputs: [{ name: 'image', datatype: 'BYTES', shape: [2] }] },
        raw: [{ bytes_b64: [light, dark] }],
      },
      {
        method: 'ModelInfer',
        metadata: auth,
        request: {
          model_name: 'price',
          inputs: [
            { name: 'alcohol', datatype: 'FP64', shape: [1], contents: { fp64_contents: [14] } },
            { name: 'colour', datatype: 'BYTES', shape: [1], contents: { bytes_contents: [btoa('red')] } },
          ],
        },
      },
      {
        method: 'ModelInfer',
        metadata: auth,
        request: {
          model_name: 'wine',
          inputs: [
            { name: 'alcohol', datatype: 'FP32', shape: [1], contents: { fp32_contents: [14] } },
            { name: 'colour', datatype: 'BYTES', shape: [1], contents: { bytes_contents: [btoa('red')] } },
          ],
          outputs: [{ name: wineOutput, parameters: { classification: { int64_param: 2 } } }],
        },
      },
    ]);
    const [contents, raw, wine, shade, price, labelled] = results;
    expect(labelled?.code, labelled?.details).toBe('OK');
    const strings = (
      labelled?.response?.outputs?.[0] as { contents?: { bytes_contents?: string[] } } | undefined
    )?.contents?.bytes_contents?.map((b) => Buffer.from(b, 'base64').toString('utf8'));
    expect(strings?.map((t) => t.split(':').slice(1).join(':'))).toEqual(['1:fine', '0:cheap']);
    expect(contents?.code, contents?.details).toBe('OK');
    expect(contents?.response).toMatchObject({ model_name: 'mnist', model_version: '1', id: 'contents' });
    const restMnist = await rest('/v2/models/mnist/infer', {
      inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 784], data: pixels }],
    });
    const expected = restMnist.outputs[0]?.data ?? [];
    close(contents?.response?.outputs?.[0]?.contents?.fp32_contents ?? [], expected);
    expect(contents?.response?.outputs?.[0]?.shape).toEqual(['2', '10']);
    close(raw?.raw_fp32?.[0] ?? [], expected);
    expect(raw?.response?.outputs?.[0]?.contents).toBeUndefined();

    const restWine = await rest('/v2/models/wine/infer', {
      inputs: [
        { name: 'alcohol', datatype: 'FP32', shape: [2], data: [14, 12] },
        { name: 'colour', datatype: 'BYTES', shape: [2], data: ['red', 'white'] },
      ],
    });
    expect(wine?.code, wine?.details).toBe('OK');
    close(wine?.response?.outputs?.[0]?.contents?.fp32_contents ?? [], restWine.outputs[0]?.data ?? []);

    const restShade = await rest('/v2/models/shade/infer', {
      inputs: [{ name: 'image', datatype: 'BYTES', shape: [2], data: [light, dark] }],
    });
    expect(shade?.code, shade?.details).toBe('OK');
    close(shade?.raw_fp32?.[0] ?? [], restShade.outputs[0]?.data ?? []);
    expect((shade?.raw_fp32?.[0]?.[1] ?? 0) > 0.5).toBe(true);
    expect((shade?.raw_fp32?.[0]?.[3] ?? 1) < 0.5).toBe(true);

    expect(price?.code, price?.details).toBe('OK');
    expect(price?.response?.outputs?.[0]?.contents?.fp32_contents?.[0]).toBeCloseTo(110, 3);
  });

  it('every method that is not open needs the key; bad requests get clear status codes', async () => {
    const methods = Object.keys(GRPC_AUTH);
    const noKey = await runClient(methods.map((method) => ({ method })));
    const wrongKey = await runClient(methods.map((method) => ({ method, metadata: [['x-api-key', 'wrong']] })));
    methods.forEach((method, i) => {
      const open = GRPC_AUTH[method] === 'open';
      expect(noKey[i]?.code, method).toBe(open ? 'OK' : 'UNAUTHENTICATED');
      expect(wrongKey[i]?.code, method).toBe(open ? 'OK' : 'UNAUTHENTICATED');
    });
    expect(methods.filter((m) => GRPC_AUTH[m] === 'open').sort()).toEqual([
      'ServerLive',
      'ServerMetadata',
      'ServerReady',
    ]);

    const infer = (request: unknown, raw?: unknown[]) => ({
      method: 'ModelInfer',
      metadata: auth,
      request,
      ...(raw ? { raw } : {}),
    });
    const bad = await runClient([
      infer({ model_name: 'nosuch', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 784] }] }, [{ fp32: image(1) }]),
      infer({ model_name: 'mnist', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 784] }] }, [{ fp32: [1, 2, 3] }]),
      infer({ model_name: 'mnist', inputs: [{ name: 'x', datatype: 'FP32', shape: [9, 784] }] }, [
        { fp32: new Array(9 * 784).fill(0) },
      ]),
      infer({ model_name: 'mnist', inputs: [{ name: 'x', datatype: 'STRING', shape: [1] }] }),
      infer({ model_name: 'mnist', inputs: [] }),
      infer({ model_name: 'mnist', model_version: '7', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 784] }] }, [
        { fp32: image(1) },
      ]),
      infer({ model_name: 'shade', inputs: [{ name: 'image', datatype: 'BYTES', shape: [1] }] }, [
        { bytes_b64: [btoa('not an image')] },
      ]),
      infer({
        model_name: 'wine',
        inputs: [
          { name: 'alcohol', datatype: 'FP32', shape: [1], contents: { fp32_contents: [13] } },
          { name: 'colour', datatype: 'BYTES', shape: [1], contents: { bytes_contents: [btoa('rose')] } },
        ],
      }),
      infer(
        {
          model_name: 'mnist',
          inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 784] }],
          outputs: [{ name: 'nope' }],
        },
        [{ fp32: image(1) }],
      ),
    ]);
    expect(bad.map((r) => r.code)).toEqual([
      'NOT_FOUND',
      'INVALID_ARGUMENT',
      'INVALID_ARGUMENT',
      'INVALID_ARGUMENT',
      'INVALID_ARGUMENT',
      'NOT_FOUND',
      'INVALID_ARGUMENT',
      'INVALID_ARGUMENT',
      'INVALID_ARGUMENT',
    ]);
    expect(bad[1]?.details).toMatch(/shape \[1,784\] needs 784 values, got 3/);
    expect(bad[2]?.details).toMatch(/at most 8/);
    expect(bad[7]?.details).toMatch(/colour/);
  });

  it('ModelStreamInfer: answers in request order with ids; a bad message gets its error and the stream goes on', async () => {
    const light = (await png(16, 16, 220)).toString('base64');
    const mnist = (id: string, fp32: number[], shape = [1, 784]) => ({
      request: { model_name: 'mnist', id, inputs: [{ name: 'x', datatype: 'FP32', shape }] },
      raw: [{ fp32 }],
    });
    const [unary] = await runClient([{ method: 'ModelInfer', metadata: auth, ...mnist('unary', image(4)) }]);
    const [stream] = await runClient([
      {
        method: 'ModelStreamInfer',
        metadata: auth,
        messages: [
          mnist('first', image(4)),
          mnist('short', [1, 2, 3]),
          {
            request: {
              model_name: 'nosuch',
              id: 'unknown',
              inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 784] }],
            },
          },
          mnist('too-many', new Array(9 * 784).fill(0), [9, 784]),
          { request: { model_name: 'mnist', id: 'datatype', inputs: [{ name: 'x', datatype: 'STRING', shape: [1] }] } },
          {
            request: { model_name: 'shade', id: 'photo', inputs: [{ name: 'image', datatype: 'BYTES', shape: [1] }] },
            raw: [{ bytes_b64: [light] }],
          },
          mnist('last', image(4)),
        ],
      },
    ]);
    expect(stream?.code, stream?.details).toBe('OK');
    const answers = stream?.responses ?? [];
    expect(answers.map((a) => a.response.id)).toEqual([
      'first',
      'short',
      'unknown',
      'too-many',
      'datatype',
      'photo',
      'last',
    ]);
    expect(answers.map((a) => a.error_message === '')).toEqual([true, false, false, false, false, true, true]);
    expect(answers[1]?.error_message).toMatch(/shape \[1,784\] needs 784 values, got 3/);
    expect(answers[2]?.error_message).toMatch(/nosuch does not exist/);
    expect(answers[3]?.error_message).toMatch(/at most 8/);
    expect(answers[4]?.error_message).toMatch(/STRING/);
    expect(answers[1]?.response.model_name).toBe('mnist');
    // The same numbers as the unary call, and the answer's model and version.
    expect(answers[0]?.response).toMatchObject({ model_name: 'mnist', model_version: '1' });
    close(answers[0]?.raw_fp32?.[0] ?? [], unary?.raw_fp32?.[0] ?? [0]);
    close(answers[6]?.raw_fp32?.[0] ?? [], unary?.raw_fp32?.[0] ?? [0]);
    expect((answers[5]?.raw_fp32?.[0]?.[1] ?? 0) > 0.5).toBe(true);
  });

  it('ModelStreamInfer: hundreds of messages in flight, a slow reader, cancellation, and a key checked at open', async () => {
    const message = {
      request: { model_name: 'mnist', id: 'm', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 784] }] },
      raw: [{ fp32: image(7) }],
    };
    const [many, slow, cancelled, noKey, wrongKey, after] = await runClient([
      { method: 'ModelStreamInfer', metadata: auth, messages: [message], repeat: 600 },
      { method: 'ModelStreamInfer', metadata: auth, messages: [message], repeat: 300, read_after: 1 },
      { method: 'ModelStreamInfer', metadata: auth, messages: [message], repeat: 400, cancel_after: 5 },
      { method: 'ModelStreamInfer', messages: [message] },
      { method: 'ModelStreamInfer', metadata: [['x-api-key', 'wrong']], messages: [message] },
      { method: 'ModelStreamInfer', metadata: auth, messages: [message], repeat: 3 },
    ]);
    const ids = (n: number) => Array.from({ length: n }, (_, i) => `m#${i}`);
    expect(many?.code, many?.details).toBe('OK');
    expect(many?.responses?.map((a) => a.response.id)).toEqual(ids(600));
    expect(many?.responses?.every((a) => a.error_message === '' && a.raw_fp32[0]?.length === 10)).toBe(true);
    expect(slow?.code, slow?.details).toBe('OK');
    expect(slow?.responses?.map((a) => a.response.id)).toEqual(ids(300));
    expect(cancelled?.code).toBe('CANCELLED');
    expect(cancelled?.responses).toHaveLength(5);
    expect(noKey).toMatchObject({ code: 'UNAUTHENTICATED', responses: [] });
    expect(noKey?.details).toMatch(/missing API key/);
    expect(wrongKey).toMatchObject({ code: 'UNAUTHENTICATED', details: 'invalid API key', responses: [] });
    // The server goes on serving after a cancelled stream.
    expect(after?.responses?.map((a) => a.error_message)).toEqual(['', '', '']);
  });

  it('wrong keys over gRPC count toward the same per-address limit as HTTP', async () => {
    const root = await freshDir('grpc-guard');
    await writeModel(join(root, 'mnist', '1'), 'identity');
    const guarded = await start({
      modelRoot: root,
      pollIntervalMs: 0,
      grpcPort: 0,
      apiKeys: [KEY],
      authFailureLimit: { max: 2, windowMs: 60_000 },
    });
    try {
      const call = (key: string) => ({
        method: 'ModelReady',
        request: { name: 'mnist' },
        metadata: [['x-api-key', key]],
      });
      const stream = { method: 'ModelStreamInfer', metadata: [['x-api-key', KEY]], messages: [{}] };
      const codes = (await runClient([call('guess-1'), call('guess-2'), call(KEY), stream], guarded.grpcAddress())).map(
        (r) => r.code,
      );
      // A blocked address cannot open a stream either, the right key included.
      expect(codes).toEqual(['UNAUTHENTICATED', 'RESOURCE_EXHAUSTED', 'RESOURCE_EXHAUSTED', 'RESOURCE_EXHAUSTED']);
      // The same address is refused over HTTP too, the right key included.
      const res = await http(`${guarded.url}/api/models`, { headers: { 'x-api-key': KEY } });
      expect(res.status).toBe(429);
    } finally {
      await guarded.close();
    }
  });

  it('--rate-limit counts gRPC calls in the same budget as HTTP: per verified key, else per address', async () => {
    const root = await freshDir('grpc-rate');
    await writeModel(join(root, 'mnist', '1'), 'identity');
    const other = 'second-key';
    const limited = await start({
      modelRoot: root,
      pollIntervalMs: 0,
      grpcPort: 0,
      apiKeys: [KEY, other],
      rateLimit: { max: 3, windowMs: 60_000 },
    });
    const at = limited.grpcAddress();
    const ready = (key: string) => ({
      method: 'ModelReady',
      request: { name: 'mnist' },
      metadata: [['x-api-key', key]],
    });
    const restWith = (key: string) => http(`${limited.url}/v1/models/mnist`, { headers: { 'x-api-key': key } });
    try {
      // Key 1: three calls pass, the fourth is refused with a retry-after trailer; health probes are not counted;
      // a wrong key is refused as such and takes nothing from the budget.
      const first = await runClient(
        [
          ready(KEY),
          { method: 'ServerLive' },
          ready('wrong'),
          ready(KEY),
          { method: 'ServerReady' },
          ready(KEY),
          ready(KEY),
        ],
        at,
      );
      expect(first.map((r) => r.code)).toEqual(['OK', 'OK', 'UNAUTHENTICATED', 'OK', 'OK', 'OK', 'RESOURCE_EXHAUSTED']);
      expect(first[6]?.details).toMatch(/rate limit exceeded: at most 3 requests per 60000 ms/);
      expect(Number(first[6]?.trailers?.['retry-after'])).toBeGreaterThan(0);
      // The same key's budget is spent over HTTP too.
      expect((await restWith(KEY)).status).toBe(429);
      // Key 2 has its own budget, shared across protocols: gRPC, HTTP, HTTP, then gRPC is the fourth.
      expect((await runClient([ready(other)], at)).map((r) => r.code)).toEqual(['OK']);
      expect((await restWith(other)).status).toBe(200);
      expect((await restWith(other)).status).toBe(200);
      expect((await runClient([ready(other)], at)).map((r) => r.code)).toEqual(['RESOURCE_EXHAUSTED']);
      // Open methods verify no key: they count per client address, as open HTTP routes do.
      const open = await runClient(
        [{ method: 'ServerMetadata' }, { method: 'ServerMetadata' }, { method: 'ServerMetadata' }],
        at,
      );
      expect(open.map((r) => r.code)).toEqual(['OK', 'OK', 'OK']);
      expect((await http(`${limited.url}/v2`)).status).toBe(429);
      expect((await runClient([{ method: 'ServerMetadata' }], at))[0]?.code).toBe('RESOURCE_EXHAUSTED');
    } finally {
      await limited.close();
    }
  });

  it('--rate-limit counts every ModelStreamInfer message: past the budget each message is refused, the stream goes on', async () => {
    const root = await freshDir('grpc-rate-stream');
    await writeModel(join(root, 'mnist', '1'), 'identity');
    const limited = await start({
      modelRoot: root,
      pollIntervalMs: 0,
      grpcPort: 0,
      apiKeys: [KEY],
      rateLimit: { max: 3, windowMs: 60_000 },
    });
    try {
      const message = {
        request: { model_name: 'mnist', id: 'r', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 784] }] },
        raw: [{ fp32: image(2) }],
      };
      const [stream] = await runClient(
        [{ method: 'ModelStreamInfer', metadata: auth, messages: [message], repeat: 5 }],
        limited.grpcAddress(),
      );
      expect(stream?.code, stream?.details).toBe('OK');
      expect(stream?.responses?.map((a) => a.response.id)).toEqual(['r#0', 'r#1', 'r#2', 'r#3', 'r#4']);
      expect(stream?.responses?.slice(0, 3).map((a) => a.error_message)).toEqual(['', '', '']);
      for (const refused of stream?.responses?.slice(3) ?? [])
        expect(refused.error_message).toMatch(/rate limit exceeded: at most 3 requests per 60000 ms; retry in \d+ s/);
      // The messages spent the key's budget over HTTP too.
      expect((await http(`${limited.url}/v1/models/mnist`, { headers: { 'x-api-key': KEY } })).status).toBe(429);
    } finally {
      await limited.close();
    }
  });
});
