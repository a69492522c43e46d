/**
 * Where `tuneserve up` listens: without API keys every route is open, so only on loopback unless --host or HOST
 * says otherwise; with keys on every interface, as `serve`. It says where it listens.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { saveLayersModel } from '@tuneserve/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli } from './cli-helpers.js';

let cwd: string;
beforeAll(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'tuneserve-up-bind-'));
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 10, inputShape: [784], activation: 'softmax' })] });
  await saveLayersModel(model, join(cwd, 'models', 'mnist', '1'));
  model.dispose();
});
afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});

const UP_LINE = /tuneserve is up: open http:\/\/[\d.:]+\/ \(listening on ([^;]+);/;

async function listeningOn(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const run = startCli(['up', '--port', '0', ...args], cwd, env);
  try {
    await run.waitFor(UP_LINE, 90_000);
    return UP_LINE.exec(run.output())?.[1] ?? '';
  } finally {
    run.child.kill('SIGTERM');
    await run.done;
  }
}

describe('tuneserve up (an existing model, so it serves at once)', () => {
  it('listens on 127.0.0.1 without keys, on every interface with keys, and where --host says', async () => {
    const noKeys = { API_KEYS: undefined, API_KEY_FILE: undefined, HOST: undefined };
    expect(await listeningOn([], noKeys)).toBe('127.0.0.1');
    expect(await listeningOn([], { ...noKeys, API_KEYS: 'k' })).toBe('every interface');
    expect(await listeningOn(['--host', '0.0.0.0'], noKeys)).toBe('every interface');
    expect(await listeningOn([], { ...noKeys, HOST: '0.0.0.0' })).toBe('every interface');
  });
});
