/**
 * Driving a study from outside the search loop (Optuna's ask-and-tell), seeding known
 * configurations (enqueueTrial), and ending a search early (stop(), maxTime, onTrialEnd).
 */
import {
  FailedTrialError,
  HyperParameterError,
  HyperParameters,
  loadStudy,
  RandomSearch,
  type Trial,
} from '@tuneserve/tuner';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';

const dir = tempDir('ask-tell-');
const quiet = { directory: dir, overwrite: true, verbose: 0 as const };

function space(): HyperParameters {
  const hp = new HyperParameters();
  hp.float('x', { minValue: -2, maxValue: 2 });
  hp.choice('kind', ['a', 'b']);
  return hp;
}

const f = (t: Trial) =>
  ((t.hyperparameters.get('x') as number) - 0.5) ** 2 + (t.hyperparameters.get('kind') === 'a' ? 0 : 1);

describe('ask and tell', () => {
  it('a loop the tuner does not own: maxTrials asks, then none; results recorded and ranked', async () => {
    const tuner = new RandomSearch(null, {
      ...quiet,
      projectName: 'ask',
      hyperparameters: space(),
      maxTrials: 5,
      seed: 2,
    });
    const told: number[] = [];
    for (let trial = await tuner.ask(); trial; trial = await tuner.ask()) {
      const value = f(trial);
      told.push(value);
      const ended = await tuner.tell(trial, value);
      expect(ended.status).toBe('COMPLETED');
      expect(ended.score).toBe(value);
    }
    expect(told).toHaveLength(5);
    const [best] = await tuner.oracle.getBestTrials(1);
    expect(best?.score).toBe(Math.min(...told));
    await tuner.close();
  });

  it('several asks before any tell hand out different trials; a told error fails the trial', async () => {
    const tuner = new RandomSearch(null, {
      ...quiet,
      projectName: 'ask-parallel',
      hyperparameters: space(),
      maxTrials: 3,
      seed: 4,
    });
    const [a, b, c] = [await tuner.ask(), await tuner.ask(), await tuner.ask()];
    expect(new Set([a?.trialId, b?.trialId, c?.trialId]).size).toBe(3);
    expect(await tuner.ask()).toBeUndefined(); // maxTrials handed out, all of them ours
    await tuner.tell(c as Trial, { default_objective: 1, other: 2 });
    const failed = await tuner.tell(a as Trial, new FailedTrialError('diverged'));
    expect(failed.status).toBe('FAILED');
    expect(failed.message).toMatch(/diverged/);
    await tuner.tell(b as Trial, 0.25);
    const statuses = (await tuner.oracle.getTrials()).map((t) => t.status);
    expect(statuses.sort()).toEqual(['COMPLETED', 'COMPLETED', 'FAILED']);
    await tuner.close();
  });

  it('hyperparameters declared after ask are stored with the told trial and searched next', async () => {
    const tuner = new RandomSearch(null, { ...quiet, projectName: 'ask-declare', maxTrials: 3, seed: 9 });
    for (let trial = await tuner.ask(); trial; trial = await tuner.ask()) {
      const lr = trial.hyperparameters.float('lr', { minValue: 1e-4, maxValue: 1e-1, sampling: 'log' });
      await tuner.tell(trial, Math.abs(Math.log10(lr) + 2));
    }
    const study = await loadStudy({ directory: dir, projectName: 'ask-declare' });
    const lrs = study?.trials.map((t) => t.hyperparameters.lr);
    expect(lrs).toHaveLength(3);
    expect(new Set(lrs).size).toBe(3);
    await tuner.close();
  });
});

describe('enqueueTrial', () => {
  it('runs queued configurations first, fills the rest with defaults, and never twice', async () => {
    class Fn extends RandomSearch {
      override async runTrial(trial: Trial): Promise<number> {
        return f(trial);
      }
    }
    const tuner = new Fn(null, { ...quiet, projectName: 'enqueue', hyperparameters: space(), maxTrials: 4, seed: 1 });
    expect(await tuner.enqueueTrial({ x: 0.5, kind: 'a' })).toBe(true);
    expect(await tuner.enqueueTrial({ x: 1.5 })).toBe(true); // kind takes its default
    expect(await tuner.enqueueTrial({ kind: 'a', x: 0.5 })).toBe(false); // already queued
    await expect(tuner.enqueueTrial({ x: 7 })).rejects.toThrow(HyperParameterError);
    await tuner.search();
    const trials = await tuner.oracle.getTrials();
    expect(trials.slice(0, 2).map((t) => t.hyperparameters.values)).toEqual([
      { x: 0.5, kind: 'a' },
      { x: 1.5, kind: 'a' },
    ]);
    expect(trials).toHaveLength(4);
    expect(await tuner.enqueueTrial({ x: 0.5, kind: 'a' })).toBe(false); // already run
    const [best] = await tuner.oracle.getBestTrials(1);
    expect(best?.hyperparameters.values).toEqual({ x: 0.5, kind: 'a' });
    await tuner.close();
  });
});

describe('ending a search early', () => {
  it('stop() ends the search once the running trial is recorded; onTrialEnd sees every trial', async () => {
    const ended: string[] = [];
    class Stopper extends RandomSearch {
      override async runTrial(trial: Trial): Promise<number> {
        if (trial.trialId === '02') this.stop();
        return f(trial);
      }
    }
    const tuner = new Stopper(null, {
      ...quiet,
      projectName: 'stop',
      hyperparameters: space(),
      maxTrials: 10,
      onTrialEnd: (t) => {
        ended.push(`${t.trialId}:${t.status}`);
      },
    });
    await tuner.search();
    expect(ended).toEqual(['00:COMPLETED', '01:COMPLETED', '02:COMPLETED']);
    expect((await tuner.oracle.getTrials()).map((t) => t.status)).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED']);
    await tuner.close();
  });

  it('maxTime ends the search between trials, leaving no trial running', async () => {
    class Slow extends RandomSearch {
      override async runTrial(trial: Trial): Promise<number> {
        await new Promise((r) => setTimeout(r, 100));
        return f(trial);
      }
    }
    const tuner = new Slow(null, {
      ...quiet,
      projectName: 'time',
      hyperparameters: space(),
      maxTrials: 1000,
      maxTime: 0.3,
    });
    await tuner.search();
    const trials = await tuner.oracle.getTrials();
    expect(trials.length).toBeGreaterThan(0);
    expect(trials.length).toBeLessThan(1000);
    expect(trials.every((t) => t.status === 'COMPLETED')).toBe(true);
    expect(() => new RandomSearch(null, { maxTime: 0 })).toThrow(/maxTime/);
    await tuner.close();
  });
});
