/** `tune --keep-checkpoints K`: the real CLI on a small CSV keeps the best K trials' checkpoints only. */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flowerRows, writeLines } from '../../data/test/fixtures.js';
import { runCli } from './cli-helpers.js';

let cwd: string;

beforeAll(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'tuneserve-keep-checkpoints-'));
  await writeLines(cwd, 'flowers.csv', flowerRows(120));
});
afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});

/** Trial folders of the study that still hold a best-epoch checkpoint. */
async function checkpointed(study: string): Promise<string[]> {
  const names = await readdir(study);
  return names.filter((n) => existsSync(join(study, n, 'checkpoint', 'model.json'))).sort();
}

describe('tune --keep-checkpoints', () => {
  it('keeps one checkpoint of four trials; 0 is refused with exit code 2', async () => {
    const args = ['tune', '--data', 'flowers.csv', '--tuner', 'random', '--max-trials', '4', '--epochs', '2'];
    const tuned = await runCli(
      [...args, '--executions-per-trial', '1', '--seed', '1', '--quiet', '--keep-checkpoints', '1'],
      cwd,
    );
    expect(tuned.code, tuned.stderr).toBe(0);
    const study = join(cwd, 'tuning', 'flowers');
    const trials = (await readdir(study)).filter((n) => n.startsWith('trial_'));
    expect(trials).toHaveLength(4);
    expect(await checkpointed(study)).toHaveLength(1);

    const refused = await runCli([...args, '--keep-checkpoints', '0'], cwd);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--keep-checkpoints must be a positive integer, got "0"/);
  }, 300_000);
});
