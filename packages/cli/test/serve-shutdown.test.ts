/**
 * The real `tuneserve serve` process (built CLI): it serves, finishes a request that is in flight
 * when SIGTERM arrives, and exits 0; idle, it stops promptly.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The server's test models: a softmax whose answer is known from the lit pixel.
import { freshDir, image, writeModel } from '../../server/test/fixtures.js';
import { BIN } from './cli-helpers.js';

let root: string;

beforeAll(async () => {
  root = await freshDir('cli');
  await writeModel(join(root, 'mnist', '1'), 'identity');
});

const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
});

async function serve(
  args: string[] = [],
): Promise<{ child: ChildProcess; url: string; exit: Promise<number | null>; stderr: () => string }> {
  const child = spawn(
    process.execPath,
    [
      BIN,
      'serve',
      '--model',
      join(root, 'mnist'),
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--backend',
      'cpu',
      '--log-level',
      'warn',
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, API_KEYS: '' } },
  );
  children.push(child);
  let stderr = '';
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const m = /serving .* at (http:\/\/\S+)/.exec(stderr);
      if (m?.[1]) resolve(m[1]);
    });
    void exit.then((code) => reject(new Error(`serve exited early (${code}): ${stderr}`)));
  });
  return { child, url, exit, stderr: () => stderr };
}

describe('tuneserve serve (real process)', () => {
  it('finishes the in-flight request after SIGTERM, then exits 0', async () => {
    const { child, url, exit } = await serve();
    const body = JSON.stringify({ instances: [image(4)] });
    const half = Math.floor(body.length / 2);
    const reply = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        `${url}/v1/models/mnist:predict`,
        { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      req.write(body.slice(0, half));
      // The request is now in flight; stop the server, then send the rest of the body.
      setTimeout(() => {
        child.kill('SIGTERM');
        setTimeout(() => req.end(body.slice(half)), 200);
      }, 200);
    });
    const answer = await reply;
    expect(answer.status).toBe(200);
    const preds = (JSON.parse(answer.text) as { predictions: number[][] }).predictions[0] ?? [];
    expect(preds.indexOf(Math.max(...preds))).toBe(4);
    expect(await exit).toBe(0);
  });

  it('stops promptly when idle', async () => {
    const { child, url, exit } = await serve();
    expect((await fetch(`${url}/v2/health/ready`)).status).toBe(200);
    const started = Date.now();
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    const ms = Date.now() - started;
    process.stderr.write(`idle SIGTERM -> exit took ${ms} ms\n`);
  });

  it('fails with exit code 2 and a message on a missing model directory', async () => {
    const child = spawn(process.execPath, [BIN, 'serve', '--model', join(root, 'nope'), '--port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(2);
    expect(stderr).toMatch(/model directory .* does not exist/);
  });
});
