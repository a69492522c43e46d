import * as tf from '@tensorflow/tfjs';
import {
  GridSearch,
  HyperModel,
  type HyperParameters,
  loadStudy,
  MedianPruner,
  type PrunerContext,
  SuccessiveHalvingPruner,
  type Trial,
} from '@tuneserve/tuner';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';

const dir = tempDir();

/**
 * A model whose "training" replays a known validation-loss curve through the real callbacks, so
 * the pruning decisions are deterministic: val_loss(epoch) = q * (1 + 1 / (epoch + 1)).
 */
class CurveModel extends HyperModel {
  epochsRun = new Map<number, number>();

  override build(hp: HyperParameters): tf.LayersModel {
    hp.choice('q', [1, 2, 3, 0.5, 4]);
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [1], units: 1 })] });
    model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    return model;
  }

  override async fit(
    hp: HyperParameters,
    model: tf.LayersModel,
    _x: unknown,
    _y: unknown,
    args: tf.ModelFitArgs,
  ): Promise<tf.History> {
    const q = hp.get('q') as number;
    const callbacks = (args.callbacks ?? []) as tf.CustomCallback[];
    for (let epoch = args.initialEpoch ?? 0; epoch < (args.epochs ?? 1); epoch++) {
      this.epochsRun.set(q, (this.epochsRun.get(q) ?? 0) + 1);
      const logs = { val_loss: q * (1 + 1 / (epoch + 1)) };
      for (const cb of callbacks) await cb.onEpochEnd(epoch, logs);
      if (model.stopTraining) break;
    }
    return new tf.History();
  }
}

describe('pruning', () => {
  it('MedianPruner stops trials worse than the median of completed ones; PRUNED keeps partial results', async () => {
    const hypermodel = new CurveModel();
    const tuner = new GridSearch(hypermodel, {
      objective: 'val_loss',
      pruner: new MedianPruner({ nStartupTrials: 2 }),
      directory: dir,
      projectName: 'median',
      overwrite: true,
      verbose: 0,
    });
    const x = tf.zeros([1, 1]);
    await tuner.search(x, x, { epochs: 5 });
    x.dispose();
    const byQ = new Map((await tuner.oracle.getTrials()).map((t) => [t.hyperparameters.get('q'), t]));
    // q=1 and q=2 are the startup trials; q=3 starts above their median (3 vs 6) and is cut after one epoch.
    expect(byQ.get(1)?.status).toBe('COMPLETED');
    expect(byQ.get(2)?.status).toBe('COMPLETED');
    expect(byQ.get(3)?.status).toBe('PRUNED');
    expect(hypermodel.epochsRun.get(3)).toBe(1);
    expect(byQ.get(3)?.score).toBeCloseTo(6, 9);
    expect(byQ.get(0.5)?.status).toBe('COMPLETED');
    expect(hypermodel.epochsRun.get(0.5)).toBe(5);
    expect(byQ.get(4)?.status).toBe('PRUNED');
    const best = await tuner.oracle.getBestTrials(1);
    expect(best[0]?.hyperparameters.get('q')).toBe(0.5);
    const study = await loadStudy({ directory: dir, projectName: 'median' });
    const pruned = study?.trials.find((t) => t.hyperparameters.q === 3);
    expect(pruned?.metrics.val_loss?.map((p) => p.step)).toEqual([0]);
    await tuner.close();
  });

  it('MedianPruner respects warm-up steps and startup trials', () => {
    const pruner = new MedianPruner({ nStartupTrials: 1, nWarmupSteps: 2 });
    const curves = new Map([
      [
        'a',
        new Map([
          [0, 1],
          [1, 1],
          [2, 1],
        ]),
      ],
      [
        'b',
        new Map([
          [0, 5],
          [1, 5],
          [2, 5],
        ]),
      ],
    ]);
    const trial = (id: string, status: Trial['status']) => ({ trialId: id, status, userData: {} }) as unknown as Trial;
    const ctx = (step: number, trials: Trial[]): PrunerContext => ({
      trial: trial('b', 'RUNNING'),
      step,
      trials,
      direction: 'min',
      intermediate: (id) => curves.get(id) ?? new Map(),
    });
    expect(pruner.shouldPrune(ctx(1, [trial('a', 'COMPLETED')]))).toBe(false); // warm-up
    expect(pruner.shouldPrune(ctx(2, [trial('a', 'COMPLETED')]))).toBe(true);
    expect(pruner.shouldPrune(ctx(2, [trial('a', 'RUNNING')]))).toBe(false); // no completed trial yet
  });

  it('SuccessiveHalvingPruner keeps the top 1/factor at each rung', () => {
    const pruner = new SuccessiveHalvingPruner({ minResource: 1, reductionFactor: 2 });
    const trials: Trial[] = [];
    const curves = new Map<string, Map<number, number>>();
    const decide = (id: string, step: number, value: number): boolean => {
      let t = trials.find((x) => x.trialId === id);
      if (!t) {
        t = { trialId: id, status: 'RUNNING', userData: {} } as unknown as Trial;
        trials.push(t);
      }
      const curve = curves.get(id) ?? new Map<number, number>();
      curve.set(step, value);
      curves.set(id, curve);
      return pruner.shouldPrune({
        trial: t,
        step,
        trials,
        direction: 'max',
        intermediate: (x) => curves.get(x) ?? new Map(),
      });
    };
    // Rung 0 is reached after 1 epoch (step 0), rung 1 after 2 epochs (step 1).
    expect(decide('t0', 0, 0.5)).toBe(false); // alone at the rung
    expect(decide('t1', 0, 0.9)).toBe(false); // best of 2 -> promoted
    expect(decide('t2', 0, 0.1)).toBe(true); // worst: 3 values, keep top 1
    expect(decide('t3', 0, 0.95)).toBe(false); // 4 values, keep top 2, it is the best
    expect(decide('t1', 1, 0.92)).toBe(false); // first at rung 1
    expect(decide('t3', 1, 0.5)).toBe(true); // rung 1: 2 values, keep top 1 (0.92)
    expect(trials.find((t) => t.trialId === 't1')?.userData.ashaRungs).toEqual({ 0: 0.9, 1: 0.92 });
  });
});
