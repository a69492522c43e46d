/**
 * The serving options table: commander and `resolveServeOptions` (what `up` uses) read the same variables the same
 * way; boolean variables take 1/true/yes/on or 0/false/no/off and refuse anything else with one line and exit 2;
 * METRICS_OPEN=false keeps /metrics behind the key on a real `tuneserve serve`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { saveLayersModel } from '@tuneserve/runtime';
import { Command, CommanderError } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addServeOptions, resolveServeOptions, SERVE_DEFAULTS, SERVE_TABLE } from '../src/commands/serve-options.js';
import { UsageError } from '../src/errors.js';
import { runCli, startCli } from './cli-helpers.js';

let cwd: string;
beforeAll(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'tuneserve-serve-options-'));
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3], activation: 'softmax' })] });
  await saveLayersModel(model, join(cwd, 'models', 'tiny', '1'));
  model.dispose();
});
afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});

/** What `tuneserve serve` would parse from these variables and arguments (commander reads process.env). */
function parseWithCommander(env: Record<string, string>, args: string[] = []): Record<string, unknown> {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    const command = addServeOptions(new Command('serve').exitOverride().configureOutput({ writeErr: () => {} }));
    command.parse(args, { from: 'user' });
    return command.opts();
  } finally {
    for (const name of Object.keys(env)) delete process.env[name];
    Object.assign(process.env, saved);
  }
}

describe('the serve options table', () => {
  it('gives every row a flag, and commander and resolveServeOptions agree on defaults and variables', () => {
    expect(SERVE_TABLE.length).toBeGreaterThan(25);
    const env = {
      PORT: '9000',
      MAX_BATCH_SIZE: '8',
      METRICS_OPEN: 'No',
      MODEL_CONTROL: 'ON',
      CORS_ORIGINS: 'http://a.example, http://b.example',
      TRUST_PROXY: '10.0.0.0/8,loopback',
      LOG_LEVEL: 'warn',
    };
    const viaCommander = parseWithCommander(env);
    const viaTable = resolveServeOptions({}, env);
    for (const row of SERVE_TABLE) expect(viaCommander[row.key], row.flags).toEqual(viaTable[row.key]);
    expect(viaTable).toMatchObject({
      port: 9000,
      maxBatch: 8,
      metricsOpen: false,
      modelControl: true,
      corsOrigin: ['http://a.example', 'http://b.example'],
      trustProxy: ['10.0.0.0/8', 'loopback'],
      logLevel: 'warn',
    });
    expect(resolveServeOptions({}, {})).toEqual(SERVE_DEFAULTS);
    expect(resolveServeOptions({ port: 1 }, { PORT: '2' }).port).toBe(1);
  });

  it('reads boolean words in any case, and a bare switch as true', () => {
    for (const word of ['1', 'true', 'TRUE', 'yes', 'Yes', 'on', 'ON']) {
      expect(resolveServeOptions({}, { METRICS_OPEN: word }).metricsOpen, word).toBe(true);
      expect(parseWithCommander({ METRICS_OPEN: word }).metricsOpen, word).toBe(true);
    }
    for (const word of ['0', 'false', 'False', 'no', 'NO', 'off', 'Off']) {
      expect(resolveServeOptions({}, { METRICS_OPEN: word }).metricsOpen, word).toBe(false);
      expect(parseWithCommander({ METRICS_OPEN: word }).metricsOpen, word).toBe(false);
    }
    expect(parseWithCommander({}, ['--metrics-open']).metricsOpen).toBe(true);
    expect(parseWithCommander({}, ['--metrics-open', 'off']).metricsOpen).toBe(false);
    expect(parseWithCommander({}).metricsOpen).toBe(false);
  });

  it('refuses any other word, naming the variable', () => {
    for (const word of ['maybe', 'enabled', '2', 'tru', '']) {
      expect(() => resolveServeOptions({}, { METRICS_OPEN: word }), word).toThrow(UsageError);
      expect(() => resolveServeOptions({}, { METRICS_OPEN: word }), word).toThrow(/^METRICS_OPEN: /);
      expect(() => parseWithCommander({ METRICS_OPEN: word }), word).toThrow(CommanderError);
    }
    expect(() => resolveServeOptions({}, { PORT: '80.5' })).toThrow(/^PORT: --port must be a non-negative integer/);
    expect(() => resolveServeOptions({}, { TRUST_PROXY: '10.0.0.0/33' })).toThrow(/^TRUST_PROXY: /);
    expect(() => resolveServeOptions({}, { TRUST_PROXY: 'proxy.example' })).toThrow(/^TRUST_PROXY: /);
    expect(() => resolveServeOptions({}, { LOG_LEVEL: 'loud' })).toThrow(/^LOG_LEVEL: must be one of/);
  });
});

describe('tuneserve serve with boolean variables (real process)', () => {
  it('stops at start with one line and exit code 2 on a word that is not a boolean', async () => {
    const result = await runCli(['serve', '--model', join('models', 'tiny')], cwd, { METRICS_OPEN: 'maybe' });
    expect(result.code).toBe(2);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/METRICS_OPEN/);
    expect(lines[0]).toMatch(/1\/true\/yes\/on or 0\/false\/no\/off/);
  });

  it('reads TUNESERVE_ACCELERATOR with the same words: "false" turns the addon off, "maybe" is refused', async () => {
    const bad = await runCli(['serve', '--model', join('models', 'tiny')], cwd, { TUNESERVE_ACCELERATOR: 'maybe' });
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toEqual([
      'tuneserve: TUNESERVE_ACCELERATOR must be 1/true/yes/on or 0/false/no/off, got "maybe"',
    ]);
  });

  it('keeps /metrics behind the key with METRICS_OPEN=false, and opens it with METRICS_OPEN=true', async () => {
    for (const [word, status] of [
      ['false', 401],
      ['true', 200],
    ] as const) {
      const run = startCli(
        ['serve', '--model', join('models', 'tiny'), '--host', '127.0.0.1', '--port', '0', '--samples', 'none'],
        cwd,
        { METRICS_OPEN: word, API_KEYS: 'k' },
      );
      try {
        await run.waitFor(/serving .* at (http:\/\/[\d.:]+)/, 60_000);
        const base = /serving .* at (http:\/\/[\d.:]+)/.exec(run.output())?.[1];
        expect((await fetch(`${base}/metrics`)).status, `METRICS_OPEN=${word}`).toBe(status);
        expect((await fetch(`${base}/metrics`, { headers: { 'x-api-key': 'k' } })).status).toBe(200);
      } finally {
        run.child.kill('SIGTERM');
        await run.done;
      }
    }
  });
});
