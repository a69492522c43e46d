/**
 * TPE: seeded, conditional spaces, better than random search on cheap problems (MOTPE with two
 * objectives), pending trials of parallel askers (and of worker processes on PostgreSQL) pushed apart.
 */
import {
  BayesianOptimization,
  createTuner,
  HyperParameters,
  hypervolume,
  isTunerKind,
  Objective,
  RandomSearch,
  TPE,
  type TPEOptions,
  type Trial,
  type Tuner,
  type TunerOptions,
} from '@tuneserve/tuner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasSystem } from '../../../test-support/system.js';
import { createTestSchema, type TestSchema, trialsOf } from './fixtures/pg-schema.js';
import { startWorker } from './fixtures/workers.js';
import { tempDir } from './helpers.js';

const dir = tempDir('tpe-test-');
const quiet = { directory: dir, overwrite: true, verbose: 0 as const };

/** A mixed space: linear and log floats, a stepped int, an unordered choice, a boolean. */
function mixedSpace(): HyperParameters {
  const hp = new HyperParameters();
  hp.float('x', { minValue: -2, maxValue: 2 });
  hp.float('lr', { minValue: 1e-5, maxValue: 1e-1, sampling: 'log' });
  hp.int('units', { minValue: 8, maxValue: 128, step: 8 });
  hp.choice('act', ['relu', 'tanh', 'gelu']);
  hp.boolean('bias');
  hp.fixed('seed', 3);
  return hp;
}

/** Minimum 0 at x = 0.7, lr = 1e-3, units = 64, act = tanh, bias = true. */
function mixed(t: Trial): number {
  const v = t.hyperparameters.values;
  return (
    ((v.x as number) - 0.7) ** 2 +
    0.2 * (Math.log10(v.lr as number) + 3) ** 2 +
    (((v.units as number) - 64) / 40) ** 2 +
    (v.act === 'tanh' ? 0 : 0.5) +
    (v.bias ? 0 : 0.3)
  );
}

type TunerClass = new (hypermodel: null, options: TunerOptions & Record<string, unknown>) => Tuner;

function searchOf(Base: TunerClass, f: (t: Trial) => number): TunerClass {
  return class extends Base {
    override async runTrial(trial: Trial): Promise<number> {
      return f(trial);
    }
  };
}

const MixedTPE = searchOf(TPE, mixed);
const MixedRandom = searchOf(RandomSearch, mixed);

async function bestOf(tuner: Tuner): Promise<number> {
  await tuner.search();
  const [best] = await tuner.oracle.getBestTrials(1);
  await tuner.close();
  return best?.score as number;
}

describe('TPE', () => {
  it('is registered as --tuner tpe and is deterministic for a seed', async () => {
    expect(isTunerKind('tpe')).toBe(true);
    const runs: string[][] = [];
    for (const [projectName, seed] of [
      ['det-a', 5],
      ['det-b', 5],
      ['det-c', 6],
    ] as const) {
      const tuner = new MixedTPE(null, { ...quiet, projectName, hyperparameters: mixedSpace(), maxTrials: 16, seed });
      await tuner.search();
      const trials = await tuner.oracle.getTrials();
      runs.push(trials.map((t) => JSON.stringify(t.hyperparameters.values)));
      // numStartupTrials defaults to min(10, maxTrials / 2): 8 random trials, then the estimators.
      expect(trials.map((t) => t.userData.proposedBy)).toEqual([...Array(8).fill('random'), ...Array(8).fill('tpe')]);
      expect(trials.every((t) => t.hyperparameters.values.seed === 3)).toBe(true);
      await tuner.close();
    }
    expect(runs[1]).toEqual(runs[0]);
    expect(runs[2]).not.toEqual(runs[0]);
    const viaRegistry = createTuner('tpe', null, { ...quiet, projectName: 'reg', multivariate: false });
    expect(viaRegistry).toBeInstanceOf(TPE);
    await viaRegistry.close();
  });

  it('beats random search on a cheap mixed problem over several seeds (univariate and multivariate)', async () => {
    for (const multivariate of [true, false]) {
      const wins: boolean[] = [];
      const tpeBest: number[] = [];
      const randomBest: number[] = [];
      for (let seed = 1; seed <= 8; seed++) {
        const common = { ...quiet, hyperparameters: mixedSpace(), maxTrials: 50, seed };
        const t = await bestOf(
          new MixedTPE(null, { ...common, projectName: `vs-tpe-${multivariate}-${seed}`, multivariate }),
        );
        const r = await bestOf(new MixedRandom(null, { ...common, projectName: `vs-random-${multivariate}-${seed}` }));
        tpeBest.push(t);
        randomBest.push(r);
        wins.push(t < r);
      }
      const median = (a: number[]) => {
        const sorted = [...a].sort((x, y) => x - y);
        return ((sorted[3] as number) + (sorted[4] as number)) / 2;
      };
      expect(
        wins.filter(Boolean).length,
        `multivariate ${multivariate}: ${tpeBest} vs ${randomBest}`,
      ).toBeGreaterThanOrEqual(6);
      expect(median(tpeBest)).toBeLessThan(0.6 * median(randomBest));
    }
  });

  it('searches a conditional space: children only where their parent is, the better branch learned', async () => {
    const space = new HyperParameters();
    const model = space.choice('model', ['linear', 'tree', 'knn']);
    const under = (value: string) => ({ parentName: 'model', parentValues: [value] });
    space.float('l2', { minValue: 1e-6, maxValue: 1, sampling: 'log', ...under('linear') });
    space.int('depth', { minValue: 1, maxValue: 12, ...under('tree') });
    space.float('subsample', { minValue: 0.1, maxValue: 1, sampling: 'reverse_log', ...under('tree') });
    space.int('k', { minValue: 1, maxValue: 50, ...under('knn') });
    expect(model).toBe('linear');
    // Trees are best, at depth 7 with a large subsample.
    const f = (t: Trial) => {
      const v = t.hyperparameters.values;
      if (v.model === 'tree') return (((v.depth as number) - 7) / 4) ** 2 + (1 - (v.subsample as number));
      if (v.model === 'linear') return 1.5 + 0.05 * Math.abs(Math.log10(v.l2 as number) + 3);
      return 1.2 + Math.abs((v.k as number) - 10) / 50;
    };
    for (const multivariate of [true, false]) {
      const tuner = new (searchOf(TPE, f))(null, {
        ...quiet,
        projectName: `cond-${multivariate}`,
        hyperparameters: space,
        maxTrials: 40,
        seed: 2,
        multivariate,
      });
      await tuner.search();
      const trials = await tuner.oracle.getTrials();
      const children: Record<string, string[]> = { linear: ['l2'], tree: ['depth', 'subsample'], knn: ['k'] };
      for (const t of trials) {
        const v = t.hyperparameters.values;
        expect(Object.keys(v).sort()).toEqual(['model', ...(children[v.model as string] as string[])].sort());
        for (const name of Object.keys(v)) {
          expect(space.getHyperParameter(name)?.accepts(v[name] as never)).toBe(true);
        }
      }
      const proposed = trials.filter((t) => t.userData.proposedBy === 'tpe');
      expect(proposed.length).toBe(30);
      const trees = proposed.filter((t) => t.hyperparameters.values.model === 'tree');
      expect(trees.length / proposed.length, `multivariate ${multivariate}`).toBeGreaterThan(0.6);
      const [best] = await tuner.oracle.getBestTrials(1);
      expect(best?.hyperparameters.values.model).toBe('tree');
      expect(Math.abs((best?.hyperparameters.values.depth as number) - 7)).toBeLessThanOrEqual(1);
      await tuner.close();
    }
  });

  it('two concurrent asks get different configurations; a tiny space is covered once, then the search stops', async () => {
    const space = new HyperParameters();
    space.choice('a', ['p', 'q', 'r']);
    space.boolean('b');
    const tuner = new TPE(null, {
      ...quiet,
      projectName: 'tiny',
      hyperparameters: space,
      maxTrials: 20,
      seed: 1,
      numStartupTrials: 2,
    });
    const seen: string[] = [];
    for (;;) {
      const [first, second] = [await tuner.ask(), await tuner.ask()];
      for (const trial of [first, second]) if (trial) seen.push(JSON.stringify(trial.hyperparameters.values));
      if (!first) break;
      await tuner.tell(first, first.hyperparameters.values.a === 'q' ? 0 : 1);
      if (second) await tuner.tell(second, second.hyperparameters.values.a === 'q' ? 0 : 1);
    }
    expect(seen).toHaveLength(6);
    expect(new Set(seen).size).toBe(6);
    await tuner.close();
  });

  it('the constant liar spreads concurrent asks: pending trials count as bad results', async () => {
    const space = () => {
      const hp = new HyperParameters();
      hp.float('x', { minValue: 0, maxValue: 1 });
      return hp;
    };
    /** Spread (standard deviation) of 6 asks made together after 20 told trials. */
    const spread = async (seed: number, constantLiar: boolean): Promise<number> => {
      const tuner = new TPE(null, {
        ...quiet,
        projectName: `liar-${seed}-${constantLiar}`,
        hyperparameters: space(),
        maxTrials: 100,
        seed,
        constantLiar,
      });
      for (let i = 0; i < 20; i++) {
        const trial = (await tuner.ask()) as Trial;
        await tuner.tell(trial, Math.abs((trial.hyperparameters.values.x as number) - 0.3));
      }
      const xs: number[] = [];
      for (let i = 0; i < 6; i++) xs.push((await tuner.ask())?.hyperparameters.values.x as number);
      await tuner.close();
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
      return Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
    };
    const withLiar: number[] = [];
    const without: number[] = [];
    for (let seed = 1; seed <= 6; seed++) {
      withLiar.push(await spread(seed, true));
      without.push(await spread(seed, false));
    }
    const median = (a: number[]) => {
      const s = [...a].sort((x, y) => x - y);
      return ((s[2] as number) + (s[3] as number)) / 2;
    };
    // Without the liar the six asks crowd around the incumbent; with it they spread out.
    expect(median(withLiar), `${withLiar} vs ${without}`).toBeGreaterThan(2 * median(without));
  });

  it('BayesianOptimization hands its decisions to TPE past tpeAfter finished trials', async () => {
    const Search = searchOf(BayesianOptimization, mixed);
    const tuner = new Search(null, {
      ...quiet,
      projectName: 'handover',
      hyperparameters: mixedSpace(),
      maxTrials: 12,
      seed: 3,
      numInitialPoints: 4,
      tpeAfter: 8,
    });
    await tuner.search();
    const sources = (await tuner.oracle.getTrials()).map((t) => t.userData.proposedBy);
    expect(sources).toEqual([...Array(4).fill('random'), ...Array(5).fill('gp'), ...Array(3).fill('tpe')]);
    await tuner.close();
  });

  it('with two objectives it is MOTPE: a better Pareto front than random search (hypervolume, most seeds)', async () => {
    /** ZDT1 with 4 variables: the front is f2 = 1 - sqrt(f1) at x1 = x2 = x3 = 0. */
    const zdt1 = (t: Trial) => {
      const x = [0, 1, 2, 3].map((i) => t.hyperparameters.values[`x${i}`] as number);
      const g = 1 + (9 * ((x[1] as number) + (x[2] as number) + (x[3] as number))) / 3;
      return { f1: x[0] as number, f2: g * (1 - Math.sqrt((x[0] as number) / g)) };
    };
    const space = () => {
      const hp = new HyperParameters();
      for (let i = 0; i < 4; i++) hp.float(`x${i}`, { minValue: 0, maxValue: 1 });
      return hp;
    };
    const objective = [new Objective('f1', 'min'), new Objective('f2', 'min')];
    const minimise = [{ direction: 'min' as const }, { direction: 'min' as const }];
    const volumeOf = async (Base: typeof TPE | typeof RandomSearch, projectName: string, seed: number) => {
      const Search: TunerClass = Base;
      const tuner = new (class extends Search {
        override async runTrial(trial: Trial) {
          return zdt1(trial);
        }
      })(null, { ...quiet, projectName, hyperparameters: space(), objective, maxTrials: 40, seed });
      await tuner.search();
      const trials = await tuner.oracle.getTrials();
      await tuner.close();
      if (Base === TPE) expect(trials.slice(10).every((t) => t.userData.proposedBy === 'tpe')).toBe(true);
      return hypervolume(
        trials.map((t) => t.values as number[]),
        [1.1, 11],
        minimise,
      );
    };
    let wins = 0;
    for (let seed = 1; seed <= 5; seed++) {
      if ((await volumeOf(TPE, `motpe-${seed}`, seed)) > (await volumeOf(RandomSearch, `mo-random-${seed}`, seed)))
        wins++;
    }
    expect(wins).toBeGreaterThanOrEqual(4);
  });

  it('validates its options, naming the bad one', () => {
    const bad: TPEOptions = { numEiCandidates: 0 };
    expect(() => new TPE(null, { ...quiet, projectName: 'bad', ...bad })).toThrow(/numEiCandidates/);
    expect(() => new TPE(null, { ...quiet, projectName: 'bad', numStartupTrials: -1 })).toThrow(/numStartupTrials/);
  });
});

describe.skipIf(!hasSystem('postgres'))('TPE on PostgreSQL', () => {
  let schema: TestSchema;
  beforeAll(async () => {
    schema = await createTestSchema('tpe');
  });
  afterAll(async () => {
    await schema?.drop();
  });

  it('2 worker processes share a TPE study: exactly maxTrials, no duplicates, model-based proposals', async () => {
    const maxTrials = 24;
    const base = { storage: schema.url, projectName: 'tpe-pg', directory: dir, maxTrials, seed: 4, trialMs: 40 };
    const workers = [1, 2].map((i) => startWorker({ ...base, tunerId: `t${i}`, tuner: 'tpe' }));
    for (const w of workers) expect((await w.exit).code, w.stderr()).toBe(0);
    const trials = await trialsOf(schema.url, dir, 'tpe-pg');
    expect(trials).toHaveLength(maxTrials);
    expect(trials.every((t) => t.status === 'COMPLETED')).toBe(true);
    expect(new Set(trials.map((t) => t.hash)).size).toBe(maxTrials);
    expect(trials.filter((t) => t.userData.proposedBy === 'tpe').length).toBeGreaterThanOrEqual(maxTrials - 11); // random until 10 have finished: at most 10 + (workers - 1)
  });
});
