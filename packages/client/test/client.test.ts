/**
 * The client's wire handling against a real HTTP server on loopback whose answers we choose:
 * status mapping, error bodies, API key header, timeout, unreachable server, SSE parsing.
 * (Its use against the real tuneserve server is covered by the CLI and browser suites.)
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuthError,
  ClientError,
  HttpError,
  ResponseFormatError,
  type StudyJson,
  TimeoutError,
  TuneserveClient,
  UnreachableError,
} from '../src/index.js';

let server: Server;
let base: string;
const seen: { url: string; auth: string | undefined; body: string }[] = [];
const study = (n: number): StudyJson => ({
  name: 's',
  tuner: 'random',
  objective: { name: 'val_acc', direction: 'max' },
  maxTrials: 3,
  trials: Array.from({ length: n }, (_, i) => ({
    trialId: String(i),
    status: 'COMPLETED',
    hyperparameters: { units: 32 },
    score: 0.9,
    bestStep: 1,
    startedAt: null,
    endedAt: null,
    durationMs: 10,
    metrics: {},
  })),
});

function handle(req: IncomingMessage, res: ServerResponse, body: string): unknown {
  seen.push({ url: req.url ?? '', auth: req.headers.authorization, body });
  const json = (status: number, value: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(value));
  };
  switch (req.url) {
    case '/v1/models/m:predict':
      return json(200, { predictions: [[0.1, 0.7, 0.2]] });
    case '/v1/models/locked:predict':
      return req.headers.authorization === 'Bearer k1'
        ? json(200, { predictions: [[1, 0]] })
        : json(401, { error: 'missing or invalid API key' });
    case '/v1/models/bad:predict':
      return json(400, { error: 'instances must be 784 numbers' });
    case '/v1/models/html:predict':
      res.writeHead(200, { 'content-type': 'text/html' });
      return void res.end('<html>');
    case '/v1/models/slow:predict':
      return void setTimeout(() => json(200, { predictions: [[1]] }), 2000);
    case '/api/samples/3':
      return json(200, { index: 3, label: 7, instances: new Array(784).fill(0) });
    case '/predict':
      res.writeHead(200, { 'content-type': 'text/plain' });
      return void res.end('This number is a 4');
    case '/api/study/events':
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': hello\n\n');
      res.write(`event: study\ndata: ${JSON.stringify(study(1))}\n\n`);
      return void setTimeout(() => res.end(`event: study\r\ndata: ${JSON.stringify(study(2))}\r\n\r\n`), 50);
    default:
      return json(404, { error: `no route ${req.url}` });
  }
}

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => handle(req, res, body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('TuneserveClient', () => {
  it('posts TF Serving instances and reads the arg-max class with latency', async () => {
    const client = new TuneserveClient({ baseUrl: `${base}/` });
    const { value, latencyMs } = await client.classify('m', new Float32Array([0.5, 1]));
    expect(value.label).toBe(1);
    expect(value.confidence).toBeCloseTo(0.7);
    expect(latencyMs).toBeGreaterThan(0);
    expect(JSON.parse(seen.at(-1)!.body)).toEqual({ instances: [[0.5, 1]] });
  });

  it('sends the API key as a bearer token, and maps 401 to AuthError', async () => {
    const anonymous = new TuneserveClient({ baseUrl: base });
    const err = await anonymous.predict('locked', [[1]]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect((err as AuthError).status).toBe(401);
    expect((err as AuthError).serverMessage).toBe('missing or invalid API key');
    const keyed = new TuneserveClient({ baseUrl: base, apiKey: 'k1' });
    await expect(keyed.predict('locked', [[1]])).resolves.toMatchObject({ value: [[1, 0]] });
    expect(seen.at(-1)!.auth).toBe('Bearer k1');
  });

  it('maps 4xx answers to HttpError with the server message', async () => {
    const client = new TuneserveClient({ baseUrl: base });
    const err = await client.predict('bad', [[1]]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect(err).not.toBeInstanceOf(AuthError);
    expect((err as HttpError).status).toBe(400);
    expect((err as Error).message).toContain('instances must be 784 numbers');
    await expect(client.sample(99)).rejects.toMatchObject({ status: 404 });
  });

  it('rejects answers that break the protocol', async () => {
    await expect(new TuneserveClient({ baseUrl: base }).predict('html', [[1]])).rejects.toBeInstanceOf(
      ResponseFormatError,
    );
  });

  it('times out with TimeoutError', async () => {
    const client = new TuneserveClient({ baseUrl: base, timeoutMs: 200 });
    const err = await client.predict('slow', [[1]]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
  });

  it('reports an unreachable server with UnreachableError', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const err = await new TuneserveClient({ baseUrl: `http://127.0.0.1:${port}` }).randomSample().catch((e) => e);
    expect(err).toBeInstanceOf(UnreachableError);
    expect((err as Error).message).toContain('ECONNREFUSED');
  });

  it('rejects a malformed base URL', () => {
    expect(() => new TuneserveClient({ baseUrl: 'localhost:8080' })).toThrow(ClientError);
    expect(() => new TuneserveClient({ baseUrl: 'ftp://x' })).toThrow(/http/);
  });

  it('reads samples and the reference /predict sentence', async () => {
    const client = new TuneserveClient({ baseUrl: base });
    await expect(client.sample(3)).resolves.toMatchObject({ index: 3, label: 7 });
    await expect(client.sample(-1)).rejects.toBeInstanceOf(ClientError);
    expect((await client.referencePredict([0, 1])).value).toBe('This number is a 4');
  });

  it('follows study server-sent events until the stream ends', async () => {
    const client = new TuneserveClient({ baseUrl: base });
    const counts: number[] = [];
    await client.watchStudy((s) => counts.push(s.trials.length), new AbortController().signal);
    expect(counts).toEqual([1, 2]);
  });
});
