/**
 * Ctrl-C stops `tune` cleanly, SIGKILL mid-trial loses nothing, and the same command then finishes the study
 * with exactly --max-trials trials, none run twice.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCli } from './cli-helpers.js';

let cwd: string;
beforeAll(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'tuneserve-resume-'));
});
afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});

const TUNE = [
  'tune',
  '--space',
  'seed',
  '--tuner',
  'random',
  '--max-trials',
  '3',
  '--executions-per-trial',
  '1',
  '--epochs',
  '4',
  '--seed',
  '11',
  '--limit-samples',
  '2000',
];

interface StudyJson {
  trials: { trialId: string; status: string; endedAt: string | null; hyperparameters: Record<string, unknown> }[];
}

async function study(): Promise<StudyJson> {
  const r = await runCli(['trials', '--json'], cwd);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as StudyJson;
}

describe('tune interruption and resume', () => {
  it('Ctrl-C exits 130 with a hint; SIGKILL mid-trial; the same command resumes to exactly max-trials', async () => {
    // 1. Ctrl-C during the first trial.
    const first = startCli(TUNE, cwd);
    await first.waitFor(/epoch 1\/4/);
    first.child.kill('SIGINT');
    const interrupted = await first.done;
    expect(interrupted.code).toBe(130);
    expect(interrupted.stderr).toMatch(/tune interrupted \(SIGINT\); run the same command again to resume/);

    // 2. SIGKILL in the middle of the second trial, after the first completed.
    const second = startCli(TUNE, cwd);
    await second.waitFor(/Trial 0 COMPLETED/);
    await second.waitFor(/Running Trial 2\/3[\s\S]*epoch 1\/4/);
    second.child.kill('SIGKILL');
    const killed = await second.done;
    expect(killed.signal).toBe('SIGKILL');
    const before = await study();
    const trial0 = before.trials.find((t) => t.trialId === '0');
    expect(trial0?.status).toBe('COMPLETED');
    expect(before.trials.find((t) => t.trialId === '1')?.status).toBe('RUNNING');

    // 3. The same command finishes the study.
    const third = await runCli(TUNE, cwd);
    expect(third.code, third.stderr).toBe(0);
    const after = await study();
    expect(after.trials).toHaveLength(3);
    expect(after.trials.every((t) => t.status === 'COMPLETED')).toBe(true);
    expect(after.trials.find((t) => t.trialId === '0')?.endedAt).toBe(trial0?.endedAt); // not run again
    const keys = after.trials.map((t) => JSON.stringify(t.hyperparameters));
    expect(new Set(keys).size).toBe(3);
  }, 300_000);
});
