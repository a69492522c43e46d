import * as tf from '@tensorflow/tfjs';
import {
  Hyperband,
  HyperModel,
  type HyperParameters,
  hyperbandBracketCount,
  hyperbandSchedule,
  hyperbandTrial,
  HyperParameters as Space,
  type Trial,
} from '@tuneserve/tuner';
import { describe, expect, it } from 'vitest';
import { tempDir, toyData } from './helpers.js';

const dir = tempDir('hyperband-test-');
const quiet = { directory: dir, overwrite: true, verbose: 0 as const };
const total = (maxEpochs: number, factor: number) =>
  hyperbandSchedule(maxEpochs, factor).reduce((n, b) => n + b.rounds.reduce((m, r) => m + r.trials, 0), 0);

describe('Hyperband bracket math (Keras Tuner)', () => {
  it('maxEpochs 10 / factor 3: 3 brackets, 30 trials', () => {
    expect(hyperbandBracketCount(10, 3)).toBe(3);
    expect(total(10, 3)).toBe(30);
    expect(hyperbandSchedule(10, 3)[0]).toEqual({
      bracket: 2,
      rounds: [
        { trials: 12, epochs: 2 },
        { trials: 4, epochs: 4 },
        { trials: 2, epochs: 10 },
      ],
    });
  });

  it('maxEpochs 100 / factor 3: 5 brackets, 254 trials, bracket 4 as documented', () => {
    expect(hyperbandBracketCount(100, 3)).toBe(5);
    expect(total(100, 3)).toBe(254);
    const [top] = hyperbandSchedule(100, 3);
    expect(top?.bracket).toBe(4);
    expect(top?.rounds.map((r) => [r.trials, r.epochs])).toEqual([
      [98, 2],
      [33, 4],
      [11, 12],
      [4, 34],
      [2, 100],
    ]);
    expect(hyperbandSchedule(100, 3).map((b) => b.bracket)).toEqual([4, 3, 2, 1, 0]);
  });

  it('rejects bad options', () => {
    expect(() => new Hyperband(null, { factor: 1 })).toThrow(/factor/);
    expect(() => new Hyperband(null, { maxEpochs: 0 })).toThrow(/maxEpochs/);
    expect(() => new Hyperband(null, { hyperbandIterations: 1.5 })).toThrow(/hyperbandIterations/);
  });
});

describe('Hyperband search', () => {
  it('runs exactly the scheduled trials and promotes the best of each round (schedule in userData, values clean)', async () => {
    const space = new Space();
    space.float('x', { minValue: 0, maxValue: 1 });
    const seen: { id: string; epochs: number; initial: number }[] = [];
    class Curve extends Hyperband {
      override async runTrial(trial: Trial): Promise<number> {
        const v = trial.hyperparameters.values;
        const info = hyperbandTrial(trial);
        if (!info) throw new Error(`trial ${trial.trialId} has no Hyperband schedule`);
        seen.push({ id: trial.trialId, epochs: info.epochs, initial: info.initialEpoch });
        // Better with more epochs; x near 0.4 is best.
        return (v.x as number) ** 2 - 0.8 * (v.x as number) + 1 / info.epochs;
      }
    }
    const tuner = new Curve(null, {
      ...quiet,
      projectName: 'curve',
      hyperparameters: space,
      maxEpochs: 10,
      factor: 3,
      seed: 3,
    });
    await tuner.search();
    const trials = await tuner.oracle.getTrials();
    expect(trials).toHaveLength(30);
    expect(trials[0]?.trialId).toBe('0000');
    expect(trials.every((t) => t.status === 'COMPLETED')).toBe(true);
    const byId = new Map(trials.map((t) => [t.trialId, t]));
    const info = (t: Trial) => hyperbandTrial(t) as NonNullable<ReturnType<typeof hyperbandTrial>>;
    // The schedule is bookkeeping, not a hyperparameter: the values hold only x.
    expect(trials.every((t) => Object.keys(t.hyperparameters.values).join() === 'x')).toBe(true);
    const promoted = trials.filter((t) => info(t).parentId !== undefined);
    expect(promoted).toHaveLength(4 + 2 + 2); // bracket 2: 4 + 2, bracket 1: 2
    for (const child of promoted) {
      const c = info(child);
      const parent = byId.get(c.parentId as string) as Trial;
      const p = info(parent);
      expect(child.hyperparameters.values.x).toBe(parent.hyperparameters.values.x);
      expect(c.bracket).toBe(p.bracket);
      expect(c.round).toBe(p.round + 1);
      expect(c.initialEpoch).toBe(p.epochs);
      // Run one worker at a time, every parent is among the best `next round size` trials of its round.
      const inRound = (t: Trial, bracket: number, round: number) =>
        info(t).bracket === bracket && info(t).round === round;
      const siblings = trials.filter((t) => inRound(t, p.bracket, p.round));
      const nextRound = trials.filter((t) => inRound(t, c.bracket, c.round));
      const better = siblings.filter((s) => (s.score as number) < (parent.score as number));
      expect(better.length).toBeLessThan(nextRound.length);
    }
    // Round sizes and epochs of the first bracket: 12 x 2 epochs, 4 x 4 (from 2), 2 x 10 (from 4).
    const bracket2 = trials.filter((t) => info(t).bracket === 2);
    const shape = [0, 1, 2].map((r) => {
      const round = bracket2.filter((t) => info(t).round === r);
      return [round.length, round[0] && info(round[0]).epochs, round[0] && info(round[0]).initialEpoch];
    });
    expect(shape).toEqual([
      [12, 2, 0],
      [4, 4, 2],
      [2, 10, 4],
    ]);
    expect(seen.find((s) => s.id === promoted[0]?.trialId)?.initial).toBe(2);
    await tuner.close();
  });

  it('a promoted trial starts from its parent best checkpoint and trains only the remaining epochs', async () => {
    const { x, y } = toyData(120, 3);
    const log: {
      trial: string;
      initialEpoch: number;
      epochs: number;
      startWeights: number[];
      endWeights: number[];
    }[] = [];
    const flat = (model: tf.LayersModel) => model.getWeights().flatMap((w) => Array.from(w.dataSync()));
    class Recording extends HyperModel {
      override build(hp: HyperParameters): tf.LayersModel {
        const model = tf.sequential();
        model.add(
          tf.layers.dense({
            inputShape: [12],
            units: hp.int('units', { minValue: 4, maxValue: 12 }),
            activation: 'relu',
          }),
        );
        model.add(tf.layers.dense({ units: 3, activation: 'softmax' }));
        model.compile({ optimizer: tf.train.adam(0.02), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
        return model;
      }
      override async fit(
        hp: HyperParameters,
        model: tf.LayersModel,
        xs: tf.Tensor,
        ys: tf.Tensor,
        args: tf.ModelFitArgs,
      ) {
        const startWeights = flat(model);
        const history = await model.fit(xs, ys, args);
        log.push({
          trial: `${hp.values.units}`,
          initialEpoch: args.initialEpoch ?? 0,
          epochs: args.epochs ?? 0,
          startWeights,
          endWeights: flat(model),
        });
        return history;
      }
    }
    // maxEpochs 3 / factor 3: bracket 1 = 3 trials x 1 epoch, then the best continues to 3 epochs; bracket 0 = 2 x 3.
    const tuner = new Hyperband(new Recording(), {
      ...quiet,
      projectName: 'continue',
      objective: 'val_loss',
      maxEpochs: 3,
      factor: 3,
      seed: 1,
    });
    await tuner.search(x, y, { epochs: 50, batchSize: 32, validationData: [x, y] });
    const trials = await tuner.oracle.getTrials();
    expect(trials).toHaveLength(6);
    // One execution per trial, run in order: log[i] belongs to trials[i].
    const parents = trials.map((t) => hyperbandTrial(t)?.parentId);
    const promoted = log.filter((_, i) => parents[i] !== undefined);
    expect(promoted).toHaveLength(1);
    const child = promoted[0] as (typeof log)[number];
    expect([child.initialEpoch, child.epochs]).toEqual([1, 3]); // search()'s epochs: 50 is ignored
    // The parent ran one epoch, so its best checkpoint holds its final weights: the child starts there.
    const parentIndex = trials.findIndex((t) => t.trialId === parents[log.indexOf(child)]);
    const parentLog = log[parentIndex] as (typeof log)[number];
    expect(parentLog.epochs).toBe(1);
    expect(child.startWeights).toHaveLength(parentLog.endWeights.length);
    for (const [i, w] of child.startWeights.entries()) expect(w).toBeCloseTo(parentLog.endWeights[i] as number, 6);
    // Trials that are not promoted start from fresh weights.
    expect(log.filter((_, i) => parents[i] === undefined).every((l) => l.initialEpoch === 0)).toBe(true);
    await tuner.close();
    tf.dispose([x, y]);
  });
});
