import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadStudy } from '@tuneserve/tuner';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const child = path.join(here, 'fixtures', 'resume-child.mjs');
const dist = path.join(here, '..', 'dist', 'index.js');

interface Event {
  pid: number;
  event: 'fit' | 'epoch' | 'paused' | 'done';
  units?: number;
  epoch?: number;
  initialEpoch?: number;
}

function readLog(file: string): Event[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Event);
}

function start(dir: string, log: string, env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [child, dir, log], {
    cwd: path.join(here, '..'),
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...env },
  });
}

function exited(proc: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal, stderr })));
}

describe('resume after SIGKILL', () => {
  it('keeps finished trials, resumes the killed trial from its last epoch and ends with exactly maxTrials', {
    timeout: 240_000,
  }, async () => {
    if (!existsSync(dist)) throw new Error(`Build the tuner first (npx tsc -b): ${dist} is missing.`);
    const dir = tempDir('tuner-resume-');
    const log = path.join(dir, 'events.jsonl');

    // Run 1: SIGKILL the process while it waits right after the second trial's epoch 1 (0-based) was checkpointed.
    const first = start(dir, log, { PAUSE_AT_FIT: '2' });
    const firstExit = exited(first);
    const deadline = Date.now() + 180_000;
    while (Date.now() < deadline && !readLog(log).some((e) => e.event === 'paused')) {
      if (first.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    first.kill('SIGKILL');
    const r1 = await firstExit;
    expect(r1.signal, `${r1.stderr}\n${existsSync(log) ? readFileSync(log, 'utf8') : 'no log'}`).toBe('SIGKILL');
    const run1 = readLog(log);
    const firstPid = run1[0]?.pid;
    const victim = run1.filter((e) => e.event === 'fit')[1]?.units;
    expect(run1.filter((e) => e.event === 'epoch' && e.units === victim).map((e) => e.epoch)).toEqual([0, 1]);
    const doneUnits = run1.find((e) => e.event === 'fit')?.units;

    // Run 2: the same search again.
    const r2 = await exited(start(dir, log));
    expect(r2.code, r2.stderr).toBe(0);
    const run2 = readLog(log).filter((e) => e.pid !== firstPid);
    const fits2 = run2.filter((e) => e.event === 'fit');
    // The killed trial resumes at epoch 2: epochs 0 and 1 are not trained again.
    expect(fits2[0]).toMatchObject({ units: victim, initialEpoch: 2 });
    expect(run2.filter((e) => e.event === 'epoch' && e.units === victim).map((e) => e.epoch)).toEqual([2, 3]);
    // The finished trial is not run again; one new trial completes the search.
    expect(fits2.some((e) => e.units === doneUnits)).toBe(false);
    expect(fits2).toHaveLength(2);
    expect(run2.at(-1)?.event).toBe('done');

    const study = await loadStudy({ directory: dir, projectName: 'resume' });
    expect(study?.trials).toHaveLength(3);
    expect(study?.trials.every((t) => t.status === 'COMPLETED')).toBe(true);
    const resumed = study?.trials.find((t) => t.hyperparameters.units === victim);
    expect(resumed?.metrics.val_loss?.map((p) => p.step)).toEqual([0, 1, 2, 3]);
    expect(new Set(study?.trials.map((t) => t.hyperparameters.units)).size).toBe(3);
  });
});
