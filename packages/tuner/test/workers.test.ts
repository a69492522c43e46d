import * as tf from '@tensorflow/tfjs';
import { HyperModel, type HyperParameters, RandomSearch, type Trial } from '@tuneserve/tuner';
import { describe, expect, it } from 'vitest';
import { tempDir, toyData } from './helpers.js';

const dir = tempDir();

function space(): (hp: HyperParameters) => void {
  return (hp) => {
    hp.int('a', { minValue: 0, maxValue: 99 });
  };
}

class Slow extends RandomSearch {
  override async runTrial(trial: Trial): Promise<number> {
    await new Promise((r) => setTimeout(r, 15));
    return trial.hyperparameters.get('a') as number;
  }
}

describe('several workers on one study', () => {
  it('two tuners with different ids share the study: exactly maxTrials, no duplicates', async () => {
    const make = (tunerId: string) => {
      const tuner = new Slow(null, {
        maxTrials: 12,
        seed: 4,
        directory: dir,
        projectName: 'shared',
        tunerId,
        verbose: 0,
      });
      space()(tuner.oracle.hyperparameters);
      return tuner;
    };
    const a = make('w0');
    const b = make('w1');
    await a.searchSpaceSummary(); // opens the study first so the second worker resumes it
    await Promise.all([a.search(), b.search()]);
    const trials = await a.oracle.getTrials();
    expect(trials).toHaveLength(12);
    expect(new Set(trials.map((t) => t.hyperparameters.values.a)).size).toBe(12);
    expect(new Set(trials.map((t) => t.trialId)).size).toBe(12);
    expect(trials.every((t) => t.status === 'COMPLETED')).toBe(true);
    await Promise.all([a.close(), b.close()]);
  });

  it('a trial whose owner stopped sending heartbeats is taken over by another worker', async () => {
    const dead = new Slow(null, {
      maxTrials: 2,
      directory: dir,
      projectName: 'stale',
      overwrite: true,
      tunerId: 'dead',
      verbose: 0,
    });
    space()(dead.oracle.hyperparameters);
    await dead.searchSpaceSummary();
    const orphan = await dead.oracle.createTrial('dead'); // hands out a trial, then "dies"
    expect(orphan.status).toBe('RUNNING');
    const alive = new Slow(null, {
      maxTrials: 2,
      directory: dir,
      projectName: 'stale',
      tunerId: 'alive',
      verbose: 0,
      heartbeatTimeoutMs: 50,
    });
    await new Promise((r) => setTimeout(r, 80));
    await alive.search();
    const trials = await alive.oracle.getTrials();
    expect(trials.map((t) => [t.trialId, t.status])).toEqual([
      ['0', 'COMPLETED'],
      ['1', 'COMPLETED'],
    ]);
    expect(trials[0]?.hyperparameters.values).toEqual(orphan.hyperparameters.values);
    await Promise.all([dead.close(), alive.close()]);
  });
});

describe('tuner options', () => {
  const data = toyData(64);

  it('verbose 0 in search arguments silences progress; maxModelSize fails oversized models; tunable=false hides hps', async () => {
    const lines: string[] = [];
    class Sized extends HyperModel {
      override build(hp: HyperParameters): tf.LayersModel {
        const units = hp.choice('units', [4, 512]);
        const model = tf.sequential({
          layers: [tf.layers.dense({ inputShape: [12], units }), tf.layers.dense({ units: 3, activation: 'softmax' })],
        });
        model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
        return model;
      }
    }
    const tuner = new RandomSearch(new Sized(), {
      objective: 'loss',
      maxTrials: 2,
      maxModelSize: 1000,
      directory: dir,
      projectName: 'sized',
      overwrite: true,
      log: (l) => lines.push(l),
    });
    await tuner.search(data.x, data.y, { epochs: 1, verbose: 0 });
    expect(lines).toEqual([]);
    const trials = await tuner.oracle.getTrials();
    const big = trials.find((t) => t.hyperparameters.values.units === 512);
    expect(big?.status).toBe('FAILED');
    expect(big?.message).toMatch(/Oversized model: \d+ parameters exceed maxModelSize 1000/);
    expect(trials.find((t) => t.hyperparameters.values.units === 4)?.status).toBe('COMPLETED');
    await tuner.close();

    class Hidden extends Sized {
      constructor() {
        super({ tunable: false });
      }
    }
    const hidden = new RandomSearch(new Hidden(), {
      objective: 'loss',
      maxTrials: 1,
      directory: dir,
      projectName: 'hidden',
      overwrite: true,
      verbose: 0,
    });
    expect(await hidden.searchSpaceSummary()).toContain('Default search space size: 0');
    await hidden.close();
  });
});
