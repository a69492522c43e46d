/**
 * `tuneserve up` on a tiny budget: the first run tunes, trains and serves (study, samples and predictions over
 * real HTTP on loopback); the second run finds the model and serves at once.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliRun, startCli } from './cli-helpers.js';

let cwd: string;
beforeAll(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'tuneserve-up-'));
});
afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});

const UP = [
  'up',
  '--host',
  '127.0.0.1',
  '--port',
  '0',
  '--limit-samples',
  '500',
  '--max-trials',
  '1',
  '--epochs',
  '1',
  '--max-epochs',
  '2',
  '--seed',
  '3',
];

const URL_LINE = /tuneserve is up: open (http:\/\/[\d.:]+)\//;

async function url(run: CliRun): Promise<string> {
  await run.waitFor(URL_LINE, 240_000);
  const base = URL_LINE.exec(run.output())?.[1];
  if (!base) throw new Error('no URL printed');
  return base;
}

describe('tuneserve up', () => {
  it('tunes, trains and serves; a second run serves the existing model at once', async () => {
    const first = startCli(UP, cwd);
    const base = await url(first);
    const study = (await (await fetch(`${base}/api/study`)).json()) as { trials: { status: string }[] };
    expect(study.trials.map((t) => t.status)).toEqual(['COMPLETED']);
    const sample = (await (await fetch(`${base}/api/samples/0`)).json()) as { label: number; instances: number[] };
    expect(sample.label).toBe(7); // the first MNIST test image
    expect(sample.instances).toHaveLength(784);
    const predicted = await fetch(`${base}/v1/models/mnist:predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: [sample.instances] }),
    });
    expect(predicted.status).toBe(200);
    const { predictions } = (await predicted.json()) as { predictions: number[][] };
    expect(predictions[0]).toHaveLength(10);
    first.child.kill('SIGINT');
    expect((await first.done).code).toBe(0);

    const second = startCli(UP, cwd);
    await url(second);
    second.child.kill('SIGINT');
    const done = await second.done;
    expect(done.stdout).toMatch(/model mnist version 1 found/);
    expect(done.stdout).not.toMatch(/tuning space/);
  }, 300_000);
});
