import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  FailedTrialError,
  FatalError,
  type FitInput,
  GridSearch,
  HyperModel,
  HyperParameters,
  loadCheckpoint,
  loadStudy,
  Objective,
  Oracle,
  type OracleContext,
  type PopulateResult,
  RandomSearch,
  TooManyFailedTrialsError,
  type Trial,
  type TrialEpochs,
  Tuner,
} from '@tuneserve/tuner';
import { afterAll, describe, expect, it } from 'vitest';
import { buildMlp, tempDir, toyData } from './helpers.js';

const dir = tempDir();
const quiet = { directory: dir, overwrite: true, verbose: 0 as const };

function space(defaultA = 0): HyperParameters {
  const hp = new HyperParameters();
  hp.int('a', { minValue: 0, maxValue: 2, default: defaultA });
  hp.choice('b', ['x', 'y']);
  return hp;
}

const valuesOf = (trials: Trial[]) => trials.map((t) => `${t.hyperparameters.values.a}${t.hyperparameters.values.b}`);

describe('RandomSearch with a runTrial override', () => {
  it('never repeats a configuration and stops when the space is exhausted', async () => {
    class Quadratic extends RandomSearch {
      override async runTrial(trial: Trial): Promise<number> {
        const a = trial.hyperparameters.get('a') as number;
        return (a - 1) ** 2 + (trial.hyperparameters.get('b') === 'y' ? 0 : 0.5);
      }
    }
    const tuner = new Quadratic(null, {
      ...quiet,
      hyperparameters: space(),
      maxTrials: 20,
      seed: 3,
      projectName: 'rs',
    });
    await tuner.search();
    const trials = await tuner.oracle.getTrials();
    expect(new Set(valuesOf(trials)).size).toBe(trials.length);
    expect(trials.length).toBe(6); // all 6 combinations, then STOPPED before maxTrials
    expect(tuner.oracle.objective.direction).toBe('min'); // a number and no objective: minimize
    const [best] = await tuner.getBestHyperparameters(1);
    expect(best?.values).toEqual({ a: 1, b: 'y' });
    expect(trials.map((t) => t.trialId)).toEqual(['00', '01', '02', '03', '04', '05']);
    await tuner.close();
  });

  it('the same seed gives the same draws; records are scored by the objective', async () => {
    const draws: string[][] = [];
    for (const projectName of ['seedA', 'seedB']) {
      class Rec extends RandomSearch {
        override async runTrial(trial: Trial): Promise<Record<string, number>> {
          return { score: (trial.hyperparameters.get('f') as number) * 2, extra: 1 };
        }
      }
      const hp = new HyperParameters();
      hp.float('f', { minValue: 0, maxValue: 10 });
      const tuner = new Rec(null, {
        ...quiet,
        hyperparameters: hp,
        objective: new Objective('score', 'max'),
        maxTrials: 5,
        seed: 42,
        projectName,
      });
      await tuner.search();
      const trials = await tuner.oracle.getTrials();
      draws.push(trials.map((t) => String(t.hyperparameters.values.f)));
      const best = await tuner.oracle.getBestTrials(5);
      const scores = best.map((t) => t.score as number);
      expect(scores).toEqual([...scores].sort((p, q) => q - p));
      expect(best[0]?.metrics).toEqual({ score: scores[0], extra: 1 });
      await tuner.close();
    }
    expect(draws[0]).toEqual(draws[1]);
  });
});

describe('failure handling', () => {
  it('retries a crashing trial, keeps messages, treats NaN as failed and stops after N consecutive failures', async () => {
    const attempts = new Map<string, number>();
    class Flaky extends RandomSearch {
      override async runTrial(trial: Trial): Promise<number> {
        const n = (attempts.get(trial.trialId) ?? 0) + 1;
        attempts.set(trial.trialId, n);
        if (trial.trialId === '0' && n === 1) throw new Error('transient failure');
        if (trial.trialId === '1') return Number.NaN;
        if (trial.trialId === '2') throw new FailedTrialError('bad configuration');
        return 1;
      }
    }
    const hp = new HyperParameters();
    hp.float('f', { minValue: 0, maxValue: 1 });
    const tuner = new Flaky(null, {
      ...quiet,
      hyperparameters: hp,
      maxTrials: 5,
      maxRetriesPerTrial: 1,
      maxConsecutiveFailedTrials: 3,
      projectName: 'flaky',
    });
    await tuner.search();
    const trials = await tuner.oracle.getTrials();
    const byId = Object.fromEntries(trials.map((t) => [t.trialId, t]));
    expect(byId['0']?.status).toBe('COMPLETED');
    expect(byId['0']?.retries).toBe(1);
    expect(attempts.get('0')).toBe(2);
    expect(byId['1']?.status).toBe('FAILED'); // NaN -> INVALID, retried once, then FAILED
    expect(byId['1']?.message).toMatch(/is NaN/);
    expect(attempts.get('1')).toBe(2);
    expect(byId['2']?.status).toBe('FAILED'); // FailedTrialError: no retry
    expect(attempts.get('2')).toBe(1);
    expect(byId['2']?.message).toMatch(/bad configuration/);
    const best = await tuner.oracle.getBestTrials(1);
    expect(Number.isNaN(best[0]?.score)).toBe(false);
    expect(best[0]?.status).toBe('COMPLETED');
    await tuner.close();

    class Broken extends RandomSearch {
      override async runTrial(): Promise<Record<string, number>> {
        return { not_the_objective: 1 };
      }
    }
    const broken = new Broken(null, {
      ...quiet,
      hyperparameters: hp,
      maxTrials: 10,
      maxConsecutiveFailedTrials: 3,
      projectName: 'broken',
    });
    await expect(broken.search()).rejects.toThrow(TooManyFailedTrialsError);
    const failed = await broken.oracle.getTrials();
    expect(failed).toHaveLength(3);
    expect(failed[0]?.message).toMatch(/objective 'default_objective' is missing .*not_the_objective/);
    await broken.close();
  });
});

describe('GridSearch', () => {
  it("visits combinations in Keras Tuner's order (defaults first, last hyperparameter fastest)", async () => {
    class Grid extends GridSearch {
      override async runTrial(): Promise<number> {
        return 0;
      }
    }
    const tuner = new Grid(null, { ...quiet, hyperparameters: space(1), projectName: 'grid' });
    await tuner.search();
    expect(valuesOf(await tuner.oracle.getTrials())).toEqual(['1x', '1y', '0x', '0y', '2x', '2y']);
    await tuner.close();
  });

  it('resumes after an abort and after reaching maxTrials without repeating or skipping', async () => {
    let calls = 0;
    class Grid extends GridSearch {
      override async runTrial(trial: Trial): Promise<number> {
        calls++;
        if (calls === 3) throw new FatalError(`abort during trial ${trial.trialId}`);
        return 0;
      }
    }
    const first = new Grid(null, { ...quiet, hyperparameters: space(), projectName: 'grid-resume' });
    await expect(first.search()).rejects.toThrow(FatalError);
    await first.close();
    const second = new Grid(null, {
      directory: dir,
      projectName: 'grid-resume',
      hyperparameters: space(),
      maxTrials: 4,
      verbose: 0,
    });
    await second.search();
    expect(valuesOf(await second.oracle.getTrials())).toEqual(['0x', '0y', '1x', '1y']);
    await second.close();
    const third = new Grid(null, { directory: dir, projectName: 'grid-resume', hyperparameters: space(), verbose: 0 });
    await third.search();
    const all = await third.oracle.getTrials();
    expect(valuesOf(all)).toEqual(['0x', '0y', '1x', '1y', '2x', '2y']);
    expect(all.every((t) => t.status === 'COMPLETED')).toBe(true);
    await third.close();
  });
});

describe('a real model search', () => {
  const data = toyData(240);
  const val = toyData(90, 11);
  afterAll(() => tf.dispose([data.x, data.y, val.x, val.y]));

  it('checkpoints the best epoch, averages executions, loads best models and leaks no tensors', async () => {
    const lines: string[] = [];
    const tuner = new RandomSearch(buildMlp, {
      objective: 'val_accuracy',
      maxTrials: 3,
      executionsPerTrial: 2,
      seed: 5,
      directory: dir,
      projectName: 'mlp',
      overwrite: true,
      log: (l) => lines.push(l),
    });
    const before = tf.memory().numTensors;
    await tuner.search(data.x, data.y, { epochs: 3, batchSize: 32, validationData: [val.x, val.y] });
    expect(tf.memory().numTensors).toBe(before);

    const trials = await tuner.oracle.getTrials();
    expect(trials).toHaveLength(3);
    expect(trials.every((t) => t.status === 'COMPLETED' && typeof t.score === 'number')).toBe(true);
    expect(lines.some((l) => l.startsWith('Search: Running Trial 1/3'))).toBe(true);
    expect(lines.some((l) => /execution 2 epoch 3\/3 .*val_acc/.test(l))).toBe(true);

    const [best] = await tuner.oracle.getBestTrials(1);
    const trialDir = await tuner.trialDir(best?.trialId as string);
    const state = JSON.parse(readFileSync(path.join(trialDir, 'checkpoint', 'state.json'), 'utf8')) as {
      value: number;
    };
    const [model] = await tuner.getBestModels(1);
    const evaluated = tf.tidy(() => {
      const out = (model as tf.LayersModel).evaluate(val.x, val.y) as tf.Scalar[];
      return out[1]?.dataSync()[0] as number;
    });
    // The reloaded weights reproduce the best epoch's validation accuracy.
    expect(evaluated).toBeCloseTo(state.value, 5);
    // The score averages each execution's best epoch, so it cannot beat the best single epoch.
    expect(best?.score as number).toBeLessThanOrEqual(state.value + 1e-9);
    model?.dispose();

    const study = await loadStudy({ directory: dir, projectName: 'mlp' });
    expect(study?.tuner).toBe('RandomSearch');
    expect(study?.objective).toEqual({ name: 'val_accuracy', direction: 'max' });
    expect(study?.trials).toHaveLength(3);
    const view = study?.trials[0];
    expect(view?.metrics.val_acc?.map((p) => p.step)).toEqual([0, 1, 2]);
    expect(typeof view?.durationMs).toBe('number');
    expect(existsSync(path.join(dir, 'mlp', 'study.db'))).toBe(true);
    expect(await loadStudy({ directory: dir, projectName: 'missing' })).toBeUndefined();
    await tuner.close();
  });

  it('cross-validates with folds: execution i trains and validates on fold i, the spread is stored', async () => {
    // Three folds; fold 1 validates on a label no output can have, so its accuracy is 0 however well (or
    // badly) four epochs train, and below the other folds' (chance on three classes is 1/3).
    const folds = [0, 1, 2].map((f) => {
      const train = toyData(160, 20 + f);
      const held = toyData(60, 30 + f);
      const y = f === 1 ? tf.fill(held.y.shape, 5, held.y.dtype) : held.y;
      if (f === 1) held.y.dispose();
      return { x: train.x, y: train.y, validationData: [held.x, y] as [tf.Tensor, tf.Tensor] };
    });
    const asked: number[] = [];
    const tuner = new RandomSearch(buildMlp, {
      ...quiet,
      objective: 'val_accuracy',
      maxTrials: 2,
      seed: 2,
      projectName: 'cv',
    });
    await tuner.search(undefined, undefined, {
      epochs: 4,
      batchSize: 32,
      folds: {
        count: 3,
        fold: (i: number) => {
          asked.push(i);
          return folds[i]!;
        },
      },
    });
    expect(asked).toEqual([0, 1, 2, 0, 1, 2]);
    for (const trial of await tuner.oracle.getTrials()) {
      expect(trial.status).toBe('COMPLETED');
      const rows = await tuner.oracle.trialMetrics(trial.trialId);
      const best = [0, 1, 2].map((e) =>
        Math.max(...rows.filter((r) => r.execution === e && r.name === 'val_acc').map((r) => r.value)),
      );
      expect(best[1]).toBeLessThan(Math.min(best[0]!, best[2]!));
      const mean = (best[0]! + best[1]! + best[2]!) / 3;
      expect(trial.score).toBeCloseTo(mean, 6);
      const std = Math.sqrt(best.reduce((a, v) => a + (v - mean) ** 2, 0) / 3);
      expect(trial.metrics.val_accuracy_std).toBeCloseTo(std, 6);
    }
    const study = await loadStudy({ directory: dir, projectName: 'cv' });
    expect(study?.trials[0]?.scoreStd).toBeCloseTo((await tuner.oracle.getTrials())[0]!.metrics.val_accuracy_std!, 9);
    tf.dispose(folds.flatMap((f) => [f.x, f.y, ...f.validationData]));
  });

  it('discovers conditional hyperparameters before the first trial', async () => {
    const build = (hp: HyperParameters): tf.LayersModel => {
      const model = tf.sequential();
      const kind = hp.choice('kind', ['wide', 'deep']);
      model.add(tf.layers.dense({ inputShape: [12], units: 4 }));
      hp.conditionalScope('kind', ['wide'], () =>
        model.add(tf.layers.dense({ units: hp.int('width', { minValue: 8, maxValue: 16, step: 8 }) })),
      );
      hp.conditionalScope('kind', ['deep'], () => {
        const depth = hp.int('depth', { minValue: 1, maxValue: 2 });
        for (let i = 0; i < depth; i++) model.add(tf.layers.dense({ units: 4 }));
      });
      model.add(tf.layers.dense({ units: 3, activation: kind === 'wide' ? 'softmax' : 'softmax' }));
      model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
      return model;
    };
    const tuner = new GridSearch(build, { ...quiet, objective: 'val_loss', projectName: 'cond' });
    const summary = await tuner.searchSpaceSummary();
    expect(summary).toContain('Default search space size: 3');
    expect(summary).toMatch(/width \(Int\)[\s\S]*depth \(Int\)/);
    await tuner.search(data.x, data.y, { epochs: 1, validationData: [val.x, val.y] });
    const combos = (await tuner.oracle.getTrials()).map((t) => JSON.stringify(t.hyperparameters.values));
    expect(combos).toEqual([
      '{"kind":"wide","width":8}',
      '{"kind":"wide","width":16}',
      '{"kind":"deep","depth":1}',
      '{"kind":"deep","depth":2}',
    ]);
    await tuner.close();
  });
});

describe('the trial hooks (what Hyperband overrides)', () => {
  const data = toyData(96);
  afterAll(() => tf.dispose([data.x, data.y]));

  it('trialEpochs and parentTrialId continue a parent trial from its checkpoint', async () => {
    class TwoRounds extends Oracle {
      protected populateSpace(trialId: string, ctx: OracleContext): PopulateResult {
        // Without maxTrials, ids are 4 digits wide as in Keras Tuner.
        if (trialId === '0000')
          return { status: 'RUNNING', values: { units: 8 }, userData: { plan: { epochs: 2, initialEpoch: 0 } } };
        if (trialId === '0001') {
          const parent = ctx.trials.find((t) => t.trialId === '0000');
          expect(parent?.status).toBe('COMPLETED');
          return {
            status: 'RUNNING',
            values: { units: 8 },
            userData: { plan: { epochs: 4, initialEpoch: 2, parent: '0000' } },
          };
        }
        return { status: 'STOPPED' };
      }
    }
    const initialEpochs: number[] = [];
    let startWeights: number[][] = [];
    class Recorder extends HyperModel {
      override build(hp: HyperParameters): tf.LayersModel {
        const model = tf.sequential();
        model.add(
          tf.layers.dense({
            inputShape: [12],
            units: hp.int('units', { minValue: 8, maxValue: 16, step: 8 }),
            activation: 'relu',
          }),
        );
        model.add(tf.layers.dense({ units: 3, activation: 'softmax' }));
        model.compile({ optimizer: tf.train.adam(0.01), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
        return model;
      }
      override fit(hp: HyperParameters, model: tf.LayersModel, x: FitInput, y: FitInput, args: tf.ModelFitArgs) {
        initialEpochs.push(args.initialEpoch ?? 0);
        if (args.initialEpoch === 2) startWeights = model.getWeights().map((w) => Array.from(w.dataSync()));
        return super.fit(hp, model, x, y, args);
      }
    }
    type Plan = { epochs: number; initialEpoch: number; parent?: string };
    class Rounds extends Tuner {
      protected override trialEpochs(trial: Trial): TrialEpochs {
        return trial.userData.plan as Plan;
      }
      protected override parentTrialId(trial: Trial): string | undefined {
        return (trial.userData.plan as Plan).parent;
      }
    }
    const tuner = new Rounds(new Recorder(), {
      oracle: new TwoRounds({ objective: 'loss' }),
      directory: dir,
      projectName: 'rounds',
      overwrite: true,
      verbose: 0,
    });
    await tuner.search(data.x, data.y, { epochs: 50, batchSize: 32 }); // epochs are overridden by the hook
    expect(initialEpochs).toEqual([0, 2]);
    const study = await loadStudy({ directory: dir, projectName: 'rounds' });
    expect(study?.trials.map((t) => t.metrics.loss?.map((p) => p.step))).toEqual([
      [0, 1],
      [2, 3],
    ]);
    expect(study?.trials[1]?.hyperparameters).toEqual({ units: 8 });
    // The child started from exactly the parent's best checkpoint.
    const reference = new Recorder().build(HyperParameters.fromConfig({ space: [], values: {} }));
    await loadCheckpoint(reference, path.join(await tuner.trialDir('0000'), 'checkpoint'));
    expect(startWeights).toEqual(reference.getWeights().map((w) => Array.from(w.dataSync())));
    reference.dispose();
    await tuner.close();
  });
});
