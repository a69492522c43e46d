/**
 * `tuneserve query` (the built CLI, as a user runs it) against a real server on 127.0.0.1 that
 * serves a freshly trained MNIST model and the real MNIST test digits.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareWorkspace, type RunningServer, serve, type Workspace } from '../../web/test/support/fixture.js';

const BIN = resolve(import.meta.dirname, '../dist/bin.js');
const KEY = 'query-test-key';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI asynchronously (the server lives in this process, so it must keep serving). */
function query(...args: string[]): Promise<Run> {
  return queryWithEnv({}, ...args);
}

function queryWithEnv(extra: Record<string, string>, ...args: string[]): Promise<Run> {
  return new Promise((done) => {
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
    delete env.TUNESERVE_API_KEY;
    delete env.TUNESERVE_URL;
    Object.assign(env, extra);
    execFile(process.execPath, [BIN, 'query', ...args], { env, timeout: 150_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((r) => probe.close(() => r()));
  return port;
}

/** Asserts a failed run: exit code 2 and exactly one line on stderr. */
function expectUsageFailure(run: Run, pattern: RegExp): void {
  expect(run.code, run.stderr).toBe(2);
  expect(run.stderr.trim().split('\n')).toHaveLength(1);
  expect(run.stderr).toMatch(pattern);
  expect(run.stdout).toBe('');
}

describe('tuneserve query against a real server', () => {
  let ws: Workspace;
  let server: RunningServer;
  let keyed: RunningServer;
  let bare: RunningServer;

  beforeAll(async () => {
    ws = await prepareWorkspace();
    server = await serve(ws);
    keyed = await serve(ws, { apiKeys: [KEY] });
    bare = await serve(ws, { withSamples: false });
  });

  afterAll(async () => {
    await server?.close();
    await keyed?.close();
    await bare?.close();
    await ws?.cleanup();
  });

  it('--random prints the sentence, true label, confidence, latency and the digit', async () => {
    const run = await query('--url', server.url, '--random');
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toMatch(/^This number is a [0-9]$/);
    expect(lines[1]).toMatch(/^True label: [0-9] \((correct|wrong)\)$/);
    expect(lines[2]).toMatch(/^Confidence: \d{1,3}\.\d%$/);
    expect(lines[3]).toMatch(/^Latency: +\d+\.\d ms$/);
    expect(lines[4]).toMatch(/^Input: +test digit #\d+$/);
    const picture = lines.slice(6, 34);
    expect(picture).toHaveLength(28);
    expect(picture.join('')).toMatch(/@@/);
    expect(picture.every((l) => l.length <= 56)).toBe(true);
  });

  it('--index N sends that test digit; --format json gives the full answer', async () => {
    const index = 0;
    const truth = ws.mnist.test.y[index]!;
    const run = await query('--url', server.url, '--index', String(index), '--format', 'json');
    expect(run.code, run.stderr).toBe(0);
    const answer = JSON.parse(run.stdout) as {
      prediction: number;
      label: number;
      confidence: number;
      probabilities: number[];
      index: number;
      latencyMs: number;
      correct: boolean;
    };
    expect(answer.index).toBe(index);
    expect(answer.label).toBe(truth);
    expect(answer.probabilities).toHaveLength(10);
    expect(answer.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 3);
    expect(answer.confidence).toBe(Math.max(...answer.probabilities));
    expect(answer.prediction).toBe(answer.probabilities.indexOf(answer.confidence));
    expect(answer.correct).toBe(answer.prediction === truth);
    expect(answer.latencyMs).toBeGreaterThan(0);
    // The first MNIST test digit is a clear 7: the trained model gets it.
    expect(answer.prediction).toBe(7);
  });

  it('--image decodes and preprocesses any picture like the web page', async () => {
    // A hand-drawn-looking "1": a dark, slightly slanted stroke on white, off-centre in a wide PNG.
    const one = join(ws.dir, 'one.png');
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="400" height="300">
      <rect width="400" height="300" fill="white"/>
      <line x1="300" y1="40" x2="290" y2="260" stroke="black" stroke-width="22" stroke-linecap="round"/></svg>`;
    await sharp(Buffer.from(svg)).png().toFile(one);
    const run = await query('--url', server.url, '--image', one);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^This number is a 1\n/);
    expect(run.stdout).not.toMatch(/True label/);
    expect(run.stdout).toContain(`Input:      ${one}`);

    // A real test digit (a 7) as a large light-on-dark JPEG: same answer as sending it raw.
    const seven = join(ws.dir, 'seven.jpg');
    const pixels = Buffer.from(ws.mnist.test.x.subarray(0, 784).map((v) => Math.round(v * 255)));
    await sharp(pixels, { raw: { width: 28, height: 28, channels: 1 } })
      .resize(224, 224, { kernel: 'lanczos3' })
      .jpeg({ quality: 95 })
      .toFile(seven);
    const fromJpeg = await query('--url', server.url, '--image', seven, '--format', 'json');
    expect(fromJpeg.code, fromJpeg.stderr).toBe(0);
    expect(JSON.parse(fromJpeg.stdout)).toMatchObject({ prediction: 7, label: null, source: seven });
  });

  it('--count N reports accuracy and latency percentiles', async () => {
    const run = await query('--url', server.url, '--count', '40', '--format', 'json');
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as {
      count: number;
      correct: number;
      accuracy: number;
      latencyMs: { mean: number; p50: number; p90: number; p99: number; max: number };
    };
    expect(summary.count).toBe(40);
    expect(summary.accuracy).toBe(summary.correct / 40);
    expect(summary.accuracy).toBeGreaterThan(0.6); // the model scored ~90% on the test set
    const l = summary.latencyMs;
    expect(0 < l.p50 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max).toBe(true);
    // Without a TTY, progress goes to stderr as plain lines.
    expect(run.stderr).toMatch(/query: 40\/40 sent/);

    const text = await query('--url', server.url, '--count', '3');
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^3 random test digits: accuracy \d+\.\d% \(\d\/3\)\nLatency ms: mean [\d.]+ {2}p50 /);
  });

  it('needs the API key when the server requires one', async () => {
    expectUsageFailure(await query('--url', keyed.url, '--random'), /requires an API key \(HTTP 401\).*--api-key/);
    expectUsageFailure(await query('--url', keyed.url, '--api-key', 'nope'), /refused the API key \(HTTP 401\)/);
    // The key (and the URL) may come from the environment instead of flags.
    const ok = await queryWithEnv({ TUNESERVE_API_KEY: KEY, TUNESERVE_URL: keyed.url }, '--index', '1', '--no-picture');
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout.trim().split('\n')).toHaveLength(5);
  });

  it('turns every failure into one line and exit code 2', async () => {
    const down = `http://127.0.0.1:${await freePort()}`;
    const blank = join(ws.dir, 'blank.png');
    await sharp({ create: { width: 50, height: 40, channels: 3, background: '#ffffff' } })
      .png()
      .toFile(blank);
    const notImage = join(ws.dir, 'notes.png');
    await writeFile(notImage, 'this is not a picture');
    // Two at a time: each run is a full CLI start on cores shared with other suites.
    const cases: [string[], RegExp][] = [
      [['--url', down, '--random'], /cannot reach the server at .*ECONNREFUSED/],
      [['--url', server.url, '--index', '99999'], /no such test digit \(HTTP 404\)/],
      [
        ['--url', server.url, '--index', '12345678901'],
        /no such test digit \(HTTP 404\): sample 12345678901 does not exist/,
      ],
      [['--url', server.url, '--model', 'nosuchmodel', '--index', '0'], /rejected the request \(HTTP 404\)/],
      [['--url', server.url, '--image', join(ws.dir, 'missing.png')], /cannot read image .*missing\.png: no such file/],
      [['--url', server.url, '--image', notImage], /cannot read image .*notes\.png/],
      [['--url', server.url, '--image', blank], /blank\.png is blank/],
      [
        ['--url', server.url, '--random', '--index', '3'],
        /choose one of --random, --index, --image, --features and --csv/,
      ],
      [['--url', bare.url, '--random'], /has no test digits to send \(HTTP 404\).*--image/],
    ];
    for (let i = 0; i < cases.length; i += 2) {
      const pair = cases.slice(i, i + 2);
      const runs = await Promise.all(pair.map(([args]) => query(...args)));
      for (const [j, run] of runs.entries()) expectUsageFailure(run, pair[j]![1]);
    }
  });
});
