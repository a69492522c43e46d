import {
  BayesianOptimization,
  BayesianOptimizationOracle,
  HyperParameters,
  Objective,
  openStorage,
  RandomSearch,
  type Trial,
} from '@tuneserve/tuner';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';

const dir = tempDir('bayesian-test-');
const quiet = { directory: dir, overwrite: true, verbose: 0 as const };

function unitSquare(): HyperParameters {
  const hp = new HyperParameters();
  hp.float('x', { minValue: 0, maxValue: 1 });
  hp.float('y', { minValue: 0, maxValue: 1 });
  return hp;
}

/** A smooth bowl with its minimum 0 at (0.7, 0.2). */
const bowl = (x: number, y: number) => (x - 0.7) ** 2 + 2 * (y - 0.2) ** 2;
const bowlOf = (t: Trial) => bowl(t.hyperparameters.get('x') as number, t.hyperparameters.get('y') as number);

class BowlBO extends BayesianOptimization {
  override async runTrial(trial: Trial): Promise<number> {
    return bowlOf(trial);
  }
}
class BowlRandom extends RandomSearch {
  override async runTrial(trial: Trial): Promise<number> {
    return bowlOf(trial);
  }
}

describe('BayesianOptimization', () => {
  it('never proposes a tried configuration and stops when a tiny discrete space is exhausted', async () => {
    const space = new HyperParameters();
    space.int('a', { minValue: 0, maxValue: 2 });
    space.choice('b', ['x', 'y']);
    space.fixed('c', 7);
    class Tiny extends BayesianOptimization {
      override async runTrial(trial: Trial): Promise<number> {
        const a = trial.hyperparameters.get('a') as number;
        return (a - 1) ** 2 + (trial.hyperparameters.get('b') === 'y' ? 0 : 0.5);
      }
    }
    const tuner = new Tiny(null, {
      ...quiet,
      projectName: 'tiny',
      hyperparameters: space,
      maxTrials: 20,
      seed: 4,
      numInitialPoints: 2,
      beta: 2.6, // UCB here; EI is the default elsewhere
    });
    await tuner.search();
    const trials = await tuner.oracle.getTrials();
    const keys = trials.map((t) => `${t.hyperparameters.values.a}${t.hyperparameters.values.b}`);
    expect(trials).toHaveLength(6); // every combination once, then STOPPED long before maxTrials
    expect(new Set(keys).size).toBe(6);
    expect(trials.every((t) => t.hyperparameters.values.c === 7)).toBe(true);
    // After the two random points, the GP made the decisions (directly or by enumerating what was left).
    const sources = trials.map((t) => t.userData.proposedBy);
    expect(sources.slice(0, 2)).toEqual(['random', 'random']);
    expect(sources.slice(2).every((s) => s === 'gp' || s === 'gp-enumerated')).toBe(true);
    const [best] = await tuner.getBestHyperparameters(1);
    expect(best?.values).toMatchObject({ a: 1, b: 'y' });
    await tuner.close();
  });

  it('is deterministic for a seed, and its default number of random initial points is max(3 * |space|, 3)', async () => {
    const runs: string[][] = [];
    for (const projectName of ['det-a', 'det-b']) {
      const tuner = new BowlBO(null, { ...quiet, projectName, hyperparameters: unitSquare(), maxTrials: 9, seed: 11 });
      await tuner.search();
      const trials = await tuner.oracle.getTrials();
      runs.push(trials.map((t) => `${t.hyperparameters.values.x},${t.hyperparameters.values.y}`));
      expect(trials.map((t) => t.userData.proposedBy)).toEqual([...Array(6).fill('random'), 'gp', 'gp', 'gp']);
      await tuner.close();
    }
    expect(runs[0]).toEqual(runs[1]);
  });

  it('beats random search on a smooth function (median over seeds), minimizing and maximizing', async () => {
    const regrets: { bo: number[]; random: number[] } = { bo: [], random: [] };
    for (const seed of [1, 2, 3]) {
      const common = { ...quiet, hyperparameters: unitSquare(), maxTrials: 15, seed };
      const bo = new BowlBO(null, { ...common, projectName: `bo-${seed}`, numInitialPoints: 4 });
      const random = new BowlRandom(null, { ...common, projectName: `rs-${seed}` });
      await bo.search();
      await random.search();
      regrets.bo.push((await bo.oracle.getBestTrials(1))[0]?.score as number);
      regrets.random.push((await random.oracle.getBestTrials(1))[0]?.score as number);
      await bo.close();
      await random.close();
    }
    const median = (v: number[]) => [...v].sort((a, b) => a - b)[1] as number;
    expect(median(regrets.bo)).toBeLessThan(median(regrets.random) / 5);
    expect(median(regrets.bo)).toBeLessThan(0.01);

    class Hill extends BayesianOptimization {
      override async runTrial(trial: Trial): Promise<Record<string, number>> {
        return { height: 1 - bowlOf(trial) };
      }
    }
    const hill = new Hill(null, {
      ...quiet,
      projectName: 'hill',
      objective: new Objective('height', 'max'),
      hyperparameters: unitSquare(),
      maxTrials: 15,
      seed: 2,
      numInitialPoints: 4,
    });
    await hill.search();
    const [top] = await hill.oracle.getBestTrials(1);
    expect(top?.score).toBeGreaterThan(0.99);
    await hill.close();
  });

  it('spreads proposals for concurrently running trials (pending trials are hallucinated)', async () => {
    const storage = await openStorage(undefined, { directory: dir, projectName: 'pending', overwrite: true });
    const space = new HyperParameters();
    space.float('x', { minValue: 0, maxValue: 1 });
    // Keras Tuner's setting (UCB, beta 2.6): the hallucinated mu + sigma removes the optimism at a pending point.
    const oracle = new BayesianOptimizationOracle({
      hyperparameters: space,
      maxTrials: 20,
      seed: 5,
      numInitialPoints: 4,
      beta: 2.6,
    });
    await oracle.attach(storage, 'BayesianOptimization');
    try {
      for (let i = 0; i < 4; i++) {
        const t = await oracle.createTrial('w0');
        const x = t.hyperparameters.get('x') as number;
        await oracle.endTrial(t.trialId, { status: 'COMPLETED', metrics: { default_objective: (x - 0.3) ** 2 } });
      }
      // Four workers ask before any of them finishes.
      const proposals: number[] = [];
      for (const worker of ['w1', 'w2', 'w3', 'w4']) {
        const t = await oracle.createTrial(worker);
        expect(t.status).toBe('RUNNING');
        expect(t.userData.proposedBy).toBe('gp');
        proposals.push(t.hyperparameters.get('x') as number);
      }
      proposals.sort((a, b) => a - b);
      const gaps = proposals.slice(1).map((p, i) => p - (proposals[i] as number));
      // Without the penalty every worker would get the same acquisition optimum (gaps ~1e-6).
      expect(Math.min(...gaps)).toBeGreaterThan(0.01);
      expect((proposals[3] as number) - (proposals[0] as number)).toBeGreaterThan(0.1);
    } finally {
      await storage.close();
    }
  });

  it('handles conditional spaces: proposals carry exactly the active hyperparameters', async () => {
    const space = new HyperParameters();
    const kind = space.choice('kind', ['linear', 'bump']);
    space.conditionalScope('kind', 'linear', () => space.float('slope', { minValue: 0, maxValue: 1 }));
    space.values.kind = 'bump'; // a scope registers its hyperparameters only while active
    space.conditionalScope('kind', 'bump', () => space.float('centre', { minValue: 0, maxValue: 1 }));
    expect(kind).toBe('linear');
    class Cond extends BayesianOptimization {
      override async runTrial(trial: Trial): Promise<number> {
        const v = trial.hyperparameters.values;
        return v.kind === 'linear' ? 0.5 + (v.slope as number) : ((v.centre as number) - 0.6) ** 2;
      }
    }
    const tuner = new Cond(null, {
      ...quiet,
      projectName: 'cond',
      hyperparameters: space,
      maxTrials: 12,
      seed: 8,
      numInitialPoints: 3,
    });
    await tuner.search();
    const trials = await tuner.oracle.getTrials();
    expect(trials).toHaveLength(12);
    for (const t of trials) {
      const keys = Object.keys(t.hyperparameters.values).sort();
      expect(keys).toEqual(t.hyperparameters.values.kind === 'linear' ? ['kind', 'slope'] : ['centre', 'kind']);
    }
    const [best] = await tuner.oracle.getBestTrials(1);
    expect(best?.hyperparameters.values.kind).toBe('bump');
    expect(best?.score).toBeLessThan(0.01);
    await tuner.close();
  });

  it('rejects bad options with clear errors', () => {
    expect(() => new BayesianOptimizationOracle({ numInitialPoints: 0 })).toThrow(/numInitialPoints/);
    expect(() => new BayesianOptimizationOracle({ alpha: -1 })).toThrow(/alpha/);
    expect(() => new BayesianOptimizationOracle({ beta: Number.NaN })).toThrow(/beta/);
    expect(() => new BayesianOptimizationOracle({ acquisition: 'pi' as 'ei' })).toThrow(/acquisition/);
    expect(new BayesianOptimizationOracle().maxTrials).toBe(10);
    // EI by default; giving Keras Tuner's beta selects its UCB acquisition.
    expect(new BayesianOptimizationOracle().acquisition).toBe('ei');
    expect(new BayesianOptimizationOracle({ beta: 1 }).acquisition).toBe('ucb');
    expect(new BayesianOptimizationOracle({ beta: 1, acquisition: 'ei' }).acquisition).toBe('ei');
  });
});
