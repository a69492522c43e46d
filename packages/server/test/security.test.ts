/** Auth on and off, rate limit, body and instance limits, CORS, headers, HTTPS: real HTTP on 127.0.0.1. */
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '../src/index.js';
import { freshDir, image, writeModel } from './fixtures.js';
import { http, type Running, start } from './helpers.js';

let modelDir: string;
const servers: Running[] = [];
const run = async (options: Parameters<typeof start>[0]) => {
  const s = await start(options);
  servers.push(s);
  return s;
};

beforeAll(async () => {
  modelDir = join(await freshDir('security'), 'mnist');
  await writeModel(join(modelDir, '1'), 'identity');
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

const predictBody = { instances: [image(2)] };

describe('API keys', () => {
  let server: Running;
  beforeAll(async () => {
    const hashed = sha256('from-file').toString('hex');
    server = await run({ modelDir, apiKeys: ['s3cret'], apiKeyHashes: [hashed] });
  });

  it('requires a key on inference, metadata, /api and /metrics routes', async () => {
    for (const [path, body] of [
      ['/predict', predictBody],
      ['/v1/models/mnist:predict', predictBody],
      ['/v2/models/mnist/infer', { inputs: [] }],
      ['/v1/models/mnist', undefined],
      ['/v2/models/mnist', undefined],
      ['/api/model', undefined],
      ['/metrics', undefined],
    ] as const) {
      const res = await http(`${server.url}${path}`, body ? { body } : {});
      expect(res.status, path).toBe(401);
      expect((res.json() as { error: string }).error).toMatch(/missing API key/);
    }
    const wrong = await http(`${server.url}/predict`, { body: predictBody, headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    expect(wrong.json()).toEqual({ error: 'invalid API key' });
  });

  it('accepts Bearer and X-API-Key, plain keys and hashed keys', async () => {
    const bearer = await http(`${server.url}/predict`, {
      body: predictBody,
      headers: { authorization: 'Bearer s3cret' },
    });
    expect(bearer.text).toBe('This number is a 2');
    const header = await http(`${server.url}/v1/models/mnist`, { headers: { 'x-api-key': 'from-file' } });
    expect(header.status).toBe(200);
  });

  it('keeps health, docs and the page open', async () => {
    for (const path of ['/v2/health/live', '/v2/health/ready', '/openapi.json', '/docs', '/']) {
      expect((await http(`${server.url}${path}`)).status, path).toBe(200);
    }
  });

  it('can serve /metrics openly when configured', async () => {
    const open = await run({ modelDir, apiKeys: ['k'], metricsOpen: true });
    expect((await http(`${open.url}/metrics`)).status).toBe(200);
    expect((await http(`${open.url}/predict`, { body: predictBody })).status).toBe(401);
  });

  it('warns at start when no keys are configured', async () => {
    const lines: string[] = [];
    const stream = { write: (line: string) => lines.push(line) } as unknown as NodeJS.WritableStream;
    await run({ modelDir, logger: { level: 'warn', stream } });
    const warning = lines
      .map((l) => JSON.parse(l) as { level: number; msg: string })
      .find((l) => /no API keys/.test(l.msg));
    expect(warning?.level).toBe(40);
  });
});

describe('limits', () => {
  it('rate-limits per verified key with 429 and Retry-After, leaving health open', async () => {
    const server = await run({ modelDir, apiKeys: ['a', 'b'], rateLimit: { max: 3, windowMs: 60_000 } });
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof http>> | undefined;
    for (let i = 0; i < 5; i++) {
      last = await http(`${server.url}/v1/models/mnist:predict`, { body: predictBody, headers: { 'x-api-key': 'a' } });
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    expect(Number(last?.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((last?.json() ?? {}) as { error?: string }).error).toMatch(/rate limit exceeded/);
    const otherKey = await http(`${server.url}/v1/models/mnist:predict`, {
      body: predictBody,
      headers: { 'x-api-key': 'b' },
    });
    expect(otherKey.status).toBe(200);
    expect((await http(`${server.url}/v2/health/ready`)).status).toBe(200);
  });

  it('keys the rate limit on the client address when no key is verified, whatever X-API-Key says', async () => {
    const server = await run({ modelDir, rateLimit: { max: 3, windowMs: 60_000 } });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await http(`${server.url}/v1/models/mnist:predict`, {
        body: predictBody,
        headers: { 'x-api-key': `guess-${i}` },
      });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
  });

  it('answers 429 with Retry-After once an address has guessed too many wrong keys, even a right one', async () => {
    const server = await run({ modelDir, apiKeys: ['s3cret'] });
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof http>> | undefined;
    for (let i = 0; i < 60; i++) {
      last = await http(`${server.url}/api/model`, { headers: { 'x-api-key': `guess-${i}` } });
      statuses.push(last.status);
    }
    // The default lock-out: 10 wrong keys per address per minute.
    expect(statuses.slice(0, 9)).toEqual(Array(9).fill(401));
    expect(statuses.slice(9)).toEqual(Array(51).fill(429));
    expect(Number(last?.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((last?.json() ?? {}) as { error?: string }).error).toMatch(/too many failed API keys/);
    // Locked out means locked out: a right key from the same address would tell the guesser it was right.
    expect((await http(`${server.url}/api/model`, { headers: { 'x-api-key': 's3cret' } })).status).toBe(429);
    // Open routes stay open to it.
    expect((await http(`${server.url}/v2/health/live`)).status).toBe(200);
  });

  it('lets the lock-out expire and counts only wrong keys, not missing ones', async () => {
    const server = await run({ modelDir, apiKeys: ['s3cret'], authFailureLimit: { max: 3, windowMs: 300 } });
    for (let i = 0; i < 20; i++) expect((await http(`${server.url}/api/model`)).status).toBe(401);
    const guesses: number[] = [];
    for (let i = 0; i < 4; i++)
      guesses.push((await http(`${server.url}/api/model`, { headers: { 'x-api-key': 'x' } })).status);
    expect(guesses).toEqual([401, 401, 429, 429]);
    await new Promise((r) => setTimeout(r, 400));
    expect((await http(`${server.url}/api/model`, { headers: { 'x-api-key': 's3cret' } })).status).toBe(200);
  });

  it("sees the client behind a trusted proxy (X-Forwarded-For) and no one else's claim", async () => {
    const server = await run({
      modelDir,
      apiKeys: ['s3cret'],
      authFailureLimit: { max: 2, windowMs: 60_000 },
      trustProxy: ['127.0.0.1'],
    });
    const guess = (client: string) =>
      http(`${server.url}/api/model`, { headers: { 'x-api-key': 'x', 'x-forwarded-for': client } });
    expect([(await guess('203.0.113.1')).status, (await guess('203.0.113.1')).status]).toEqual([401, 429]);
    // Another client behind the same proxy is not locked out by the first one's guesses.
    expect((await guess('203.0.113.2')).status).toBe(401);
    const untrusted = await run({ modelDir, apiKeys: ['s3cret'], authFailureLimit: { max: 2, windowMs: 60_000 } });
    const claim = (client: string) =>
      http(`${untrusted.url}/api/model`, { headers: { 'x-api-key': 'x', 'x-forwarded-for': client } });
    // Without --trust-proxy a forged X-Forwarded-For changes nothing: both guesses count against 127.0.0.1.
    expect([(await claim('203.0.113.1')).status, (await claim('203.0.113.2')).status]).toEqual([401, 429]);
  });

  it('answers 413 over the body limit and 400 over the instances limit, then serves normally', async () => {
    const server = await run({ modelDir, bodyLimit: 64 * 1024, maxInstances: 4 });
    const big = await http(`${server.url}/v1/models/mnist:predict`, {
      raw: `{"instances": [${'0,'.repeat(40_000)}0]}`,
    });
    expect(big.status).toBe(413);
    expect(big.json()).toEqual({ error: 'request body is too large' });
    const many = await http(`${server.url}/v1/models/mnist:predict`, {
      body: { instances: Array.from({ length: 5 }, () => image(0)) },
    });
    expect(many.status).toBe(400);
    expect((many.json() as { error: string }).error).toMatch(/5 examples, more than the limit of 4/);
    const kserve = await http(`${server.url}/v2/models/mnist/infer`, {
      body: { inputs: [{ name: 'x', shape: [5, 784], datatype: 'FP32', data: [] }] },
    });
    expect(kserve.status).toBe(400);
    expect((await http(`${server.url}/predict`, { body: predictBody })).text).toBe('This number is a 2');
  });

  it('answers 504 when a prediction misses its deadline, and keeps serving', async () => {
    // batches wait 300 ms for company, longer than the 50 ms deadline
    const server = await run({ modelDir, batchTimeoutMs: 300, requestTimeoutMs: 50 });
    const late = await http(`${server.url}/v1/models/mnist:predict`, { body: predictBody });
    expect(late.status).toBe(504);
    expect(late.json()).toEqual({ error: 'prediction did not finish within 50 ms' });
    await new Promise((r) => setTimeout(r, 400));
    expect((await http(`${server.url}/v2/health/live`)).status).toBe(200);
  });

  it('allows only listed CORS origins', async () => {
    const server = await run({ modelDir, corsOrigins: ['http://good.example'] });
    const good = await http(`${server.url}/v2/health/live`, { headers: { origin: 'http://good.example' } });
    expect(good.headers.get('access-control-allow-origin')).toBe('http://good.example');
    const bad = await http(`${server.url}/v2/health/live`, { headers: { origin: 'http://evil.example' } });
    expect(bad.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('never leaks stack traces or paths in errors', async () => {
    const server = await run({ modelDir });
    for (const raw of ['{"instances":', '{"__proto__": {"x": 1}}', '[]', 'null', '"\\u0000"']) {
      const res = await http(`${server.url}/v1/models/mnist:predict`, { raw });
      expect(res.status, raw).toBe(400);
      expect(res.text).not.toMatch(/\/work\/|node_modules|at .*\.js|\.ts:/);
    }
  });
});

describe('JSON bodies', () => {
  it('rejects prototype-poisoning keys, plain or \\u-escaped, with a 400 like any invalid body', async () => {
    const server = await run({ modelDir });
    const poisoned = [
      '{"instances": [[0]], "__proto__": {"x": 1}}',
      '{"instances": [[0]], "constructor": {"prototype": {"x": 1}}}',
      '{"instances": [[0]], "\\u005f_proto__": {"x": 1}}',
      '{"instances": [[0]], "c\\u006fnstructor": {"prototype": {"x": 1}}}',
      '\ufeff{"instances": [[0]], "__proto__": {"x": 1}}',
    ];
    for (const raw of poisoned) {
      const res = await http(`${server.url}/v1/models/mnist:predict`, { raw });
      expect(res.status, raw).toBe(400);
      expect(res.text, raw).toMatch(/not valid JSON|empty/i);
    }
    for (const raw of ['', '{"instances": [[0]]', '{"instances": [[0]]} x']) {
      const res = await http(`${server.url}/v1/models/mnist:predict`, { raw });
      expect(res.status, raw).toBe(400);
      expect(res.text, raw).toMatch(/not valid JSON|empty/i);
    }
  });

  it('answers a preflight with 404 when no CORS origin is allowed', async () => {
    const server = await run({ modelDir });
    const res = await http(`${server.url}/v1/models/mnist:predict`, {
      method: 'OPTIONS',
      headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(res.status).toBe(404);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('HTTPS', () => {
  it('serves TLS with the given certificate and key', async () => {
    const dir = await freshDir('tls');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    const cert = await readFile(join(dir, 'cert.pem'));
    const key = await readFile(join(dir, 'key.pem'));
    const server = await run({ modelDir, https: { cert, key } });
    expect(server.url).toMatch(/^https:/);
    const text = await new Promise<string>((resolve, reject) => {
      const req = request(
        `${server.url}/predict`,
        { method: 'POST', ca: cert, headers: { 'content-type': 'application/json' } },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve(`${res.headers['strict-transport-security'] ? 'hsts ' : ''}${body}`));
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify(JSON.stringify(predictBody)));
    });
    expect(text).toBe('hsts This number is a 2');
  });
});
