/**
 * Hyperparameters declared on first use outside build(): in a runTrial override and in
 * HyperModel.fit (Keras Tuner tunes fit arguments such as the batch size this way). They must
 * join the study's space, be stored with the trial that declared them and be searched by every
 * tuner afterwards.
 */
import * as tf from '@tensorflow/tfjs';
import {
  BayesianOptimization,
  type FitInput,
  GridSearch,
  Hyperband,
  HyperModel,
  type HyperParameters,
  loadStudy,
  RandomSearch,
  type Trial,
  type Tuner,
  type TunerOptions,
} from '@tuneserve/tuner';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir, toyData } from './helpers.js';

const dir = tempDir('declare-on-use-');
const quiet = { directory: dir, overwrite: true, verbose: 0 as const };

type TunerClass = new (hypermodel: null, options: TunerOptions & Record<string, unknown>) => Tuner;

function declaringInRunTrial(Base: TunerClass): TunerClass {
  return class extends Base {
    override async runTrial(trial: Trial): Promise<number> {
      const x = trial.hyperparameters.float('x', { minValue: 0, maxValue: 1 });
      const mode = trial.hyperparameters.choice('mode', ['a', 'b', 'c']);
      return (x - 0.3) ** 2 + (mode === 'b' ? 0 : 0.1);
    }
  };
}

describe('hyperparameters declared in runTrial', () => {
  it('RandomSearch runs maxTrials trials and stores what runTrial declared with each one', async () => {
    const Cls = declaringInRunTrial(RandomSearch);
    const tuner = new Cls(null, { ...quiet, projectName: 'rs-runtrial', maxTrials: 3, seed: 5 });
    await tuner.search();
    const trials = await tuner.oracle.getTrials();
    expect(trials.map((t) => t.status)).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED']);
    // The first trial saw the defaults; the next ones were drawn from the discovered space.
    expect(trials[0]?.hyperparameters.values).toEqual({ x: 0, mode: 'a' });
    const xs = trials.map((t) => t.hyperparameters.values.x);
    expect(new Set(xs).size).toBe(3);
    expect(tuner.oracle.hyperparameters.space.map((h) => h.name)).toEqual(['x', 'mode']);
    const study = await loadStudy({ directory: dir, projectName: 'rs-runtrial' });
    expect(study?.trials.map((t) => Object.keys(t.hyperparameters).sort())).toEqual([
      ['mode', 'x'],
      ['mode', 'x'],
      ['mode', 'x'],
    ]);
    await tuner.close();
  });

  it.each([
    ['BayesianOptimization', BayesianOptimization, { maxTrials: 8, numInitialPoints: 3 }],
    ['Hyperband', Hyperband, { maxEpochs: 3, factor: 3 }],
  ] as const)('%s searches what runTrial declared', async (name, Base, extra) => {
    const Cls = declaringInRunTrial(Base as unknown as TunerClass);
    const tuner = new Cls(null, { ...quiet, projectName: `runtrial-${name}`, seed: 11, ...extra });
    await tuner.search();
    const trials = await tuner.oracle.getTrials();
    expect(trials.length).toBeGreaterThan(3);
    for (const t of trials)
      expect(Object.keys(t.hyperparameters.values)).toEqual(expect.arrayContaining(['x', 'mode']));
    expect(new Set(trials.map((t) => t.hyperparameters.values.x)).size).toBeGreaterThan(2);
    await tuner.close();
  });

  it('GridSearch enumerates every combination of what runTrial declared', async () => {
    class Grid extends GridSearch {
      override async runTrial(trial: Trial): Promise<number> {
        const a = trial.hyperparameters.int('a', { minValue: 0, maxValue: 2 });
        const b = trial.hyperparameters.boolean('b');
        return a + (b ? 1 : 0);
      }
    }
    const tuner = new Grid(null, { ...quiet, projectName: 'grid-runtrial' });
    await tuner.search();
    const combos = (await tuner.oracle.getTrials()).map(
      (t) => `${t.hyperparameters.values.a}${t.hyperparameters.values.b}`,
    );
    expect(combos.sort()).toEqual(['0false', '0true', '1false', '1true', '2false', '2true']);
    await tuner.close();
  });
});

describe('hyperparameters declared in HyperModel.fit', () => {
  const data = toyData(96);
  afterAll(() => tf.dispose([data.x, data.y]));

  it('are stored with each trial and tuned (GridSearch visits every batch size and shuffle setting)', async () => {
    const seen: string[] = [];
    class FitTuned extends HyperModel {
      override build(hp: HyperParameters): tf.LayersModel {
        const model = tf.sequential();
        model.add(tf.layers.dense({ inputShape: [12], units: hp.choice('units', [4, 8]), activation: 'relu' }));
        model.add(tf.layers.dense({ units: 3, activation: 'softmax' }));
        model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
        return model;
      }
      override fit(hp: HyperParameters, model: tf.LayersModel, x: FitInput, y: FitInput, args: tf.ModelFitArgs) {
        const batchSize = hp.choice('batch_size', [16, 32]);
        const shuffle = hp.boolean('shuffle', { default: true });
        seen.push(`${hp.get('units')}/${batchSize}/${shuffle}`);
        return model.fit(x, y, { ...args, batchSize, shuffle });
      }
    }
    const tuner = new GridSearch(new FitTuned(), { ...quiet, projectName: 'grid-fit', objective: 'loss' });
    await tuner.search(data.x, data.y, { epochs: 1 });
    const trials = await tuner.oracle.getTrials();
    const stored = trials.map(
      (t) =>
        `${t.hyperparameters.values.units}/${t.hyperparameters.values.batch_size}/${t.hyperparameters.values.shuffle}`,
    );
    expect(stored).toEqual(seen);
    expect(new Set(stored).size).toBe(8);
    expect(trials.every((t) => t.status === 'COMPLETED')).toBe(true);
    await tuner.close();
  });
});
