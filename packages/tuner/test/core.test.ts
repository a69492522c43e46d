/**
 * The tuner's core seams: opening a study (lazily on any read, or explicitly), studies written by
 * the previous version (Hyperband bookkeeping among the values), the typed tuner registry, and the
 * exported aggregation and ranking functions.
 */
import {
  aggregateExecutions,
  createTuner,
  type EpochMetric,
  Hyperband,
  hyperbandTrial,
  isTunerKind,
  loadStudy,
  Objective,
  openStorage,
  RandomSearch,
  rankTrials,
  type Trial,
  TUNER_KINDS,
  valuesHash,
} from '@tuneserve/tuner';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';

const dir = tempDir('core-');

class Parabola extends RandomSearch {
  override async runTrial(trial: Trial): Promise<number> {
    return (trial.hyperparameters.float('x', { minValue: -1, maxValue: 1 }) - 0.2) ** 2;
  }
}

describe('opening a study', () => {
  it('a tuner constructed on an existing study can be read at once (lazy open), and open() is explicit', async () => {
    const first = new Parabola(null, {
      directory: dir,
      projectName: 'reopen',
      overwrite: true,
      maxTrials: 4,
      seed: 1,
      verbose: 0,
    });
    await first.search();
    await first.close();

    const again = new Parabola(null, { directory: dir, projectName: 'reopen', verbose: 0 });
    const best = await again.oracle.getBestTrials(2); // no other call before: used to throw "not attached"
    expect(best).toHaveLength(2);
    expect(best[0]?.status).toBe('COMPLETED');
    expect((best[0]?.score as number) <= (best[1]?.score as number)).toBe(true);
    await again.close();

    const explicit = await new Parabola(null, { directory: dir, projectName: 'reopen', verbose: 0 }).open();
    expect((await explicit.oracle.getTrials()).length).toBe(4);
    expect(explicit.oracle.hyperparameters.space.map((h) => h.name)).toEqual(['x']);
    await explicit.close();
  });

  it('overwrite applies when the study is first opened, whichever call opens it', async () => {
    const tuner = new Parabola(null, { directory: dir, projectName: 'reopen', overwrite: true, verbose: 0 });
    expect(await tuner.oracle.getTrials()).toEqual([]);
    await tuner.close();
  });
});

describe('studies written by the previous version', () => {
  it("Hyperband's tuner/* values are read as the trial's schedule, not as hyperparameters", async () => {
    const projectName = 'legacy';
    const tuner = new Hyperband(null, { directory: dir, projectName, overwrite: true, verbose: 0, maxEpochs: 3 });
    await tuner.open();
    await tuner.close();
    // Write two trials the way the previous version stored them.
    const storage = await openStorage('sqlite:', { directory: dir, projectName, overwrite: false });
    const old = (id: string, seq: number, values: Record<string, number | string>) => ({
      trialId: id,
      seq,
      status: 'COMPLETED' as const,
      values,
      hash: valuesHash(values),
      score: 1 - seq / 10,
      bestStep: 0,
      metrics: { default_objective: 1 - seq / 10 },
      message: null,
      ownerId: null,
      heartbeatAt: null,
      startedAt: 1,
      endedAt: 2,
      retries: 0,
      userData: {},
    });
    await storage.putTrial(
      old('0000', 0, { x: 0.5, 'tuner/epochs': 1, 'tuner/initial_epoch': 0, 'tuner/bracket': 1, 'tuner/round': 0 }),
    );
    await storage.putTrial(
      old('0001', 1, {
        x: 0.5,
        'tuner/epochs': 3,
        'tuner/initial_epoch': 1,
        'tuner/bracket': 1,
        'tuner/round': 1,
        'tuner/trial_id': '0000',
      }),
    );
    await storage.close();

    const reopened = new Hyperband(null, { directory: dir, projectName, verbose: 0, maxEpochs: 3 });
    const trials = await reopened.oracle.getTrials();
    expect(trials.map((t) => t.hyperparameters.values)).toEqual([{ x: 0.5 }, { x: 0.5 }]);
    expect(hyperbandTrial(trials[1] as Trial)).toEqual({
      epochs: 3,
      initialEpoch: 1,
      bracket: 1,
      round: 1,
      parentId: '0000',
    });
    await reopened.close();
    const view = await loadStudy({ directory: dir, projectName });
    expect(view?.trials.map((t) => t.hyperparameters)).toEqual([{ x: 0.5 }, { x: 0.5 }]);
  });
});

describe('the tuner registry', () => {
  it('names every tuner and builds it with its own options', async () => {
    expect(TUNER_KINDS).toEqual(expect.arrayContaining(['random', 'grid', 'bayesian', 'hyperband', 'nsga2']));
    expect(isTunerKind('hyperband')).toBe(true);
    expect(isTunerKind('toString')).toBe(false);
    const hb = createTuner('hyperband', null, { directory: dir, projectName: 'registry', maxEpochs: 9, factor: 3 });
    expect(hb).toBeInstanceOf(Hyperband);
    expect(() => createTuner('bayesian', null, { numInitialPoints: 0 })).toThrow(/numInitialPoints/);
  });
});

describe('aggregation over executions and ranking', () => {
  const row = (execution: number, step: number, name: string, value: number): EpochMetric => ({
    trialId: '0',
    execution,
    step,
    name,
    value,
  });

  it("takes each execution's best epoch by the objective, then the mean over executions", () => {
    const rows = [
      row(0, 0, 'val_loss', 0.9),
      row(0, 0, 'acc', 0.5),
      row(0, 1, 'val_loss', 0.4),
      row(0, 1, 'acc', 0.8),
      row(0, 2, 'val_loss', 0.6),
      row(0, 2, 'acc', 0.9),
      row(1, 0, 'val_loss', 0.2),
      row(1, 0, 'acc', 0.6),
      row(1, 1, 'val_loss', 0.3),
      row(1, 1, 'acc', 0.7),
    ];
    const out = aggregateExecutions(rows, new Objective('val_loss', 'min'));
    expect(out.metrics.val_loss).toBeCloseTo(0.3, 12); // (0.4 + 0.2) / 2
    expect(out.metrics.acc).toBeCloseTo(0.7, 12); // (0.8 + 0.6) / 2
    expect(out.bestStep).toBe(0); // floor((1 + 0) / 2)
    expect(out.metrics.val_loss_std).toBeCloseTo(0.1, 12); // population std of 0.4 and 0.2
    expect(out.metrics.acc_std).toBeUndefined(); // only the objective's spread
  });

  it("stores each objective's spread over executions (folds), none for a single execution", () => {
    const rows = [0.8, 0.9, 0.7].map((v, e) => row(e, 0, 'val_accuracy', v));
    const out = aggregateExecutions(rows, new Objective('val_accuracy', 'max'));
    expect(out.metrics.val_accuracy).toBeCloseTo(0.8, 12);
    expect(out.metrics.val_accuracy_std).toBeCloseTo(Math.sqrt(0.02 / 3), 12);
    expect(aggregateExecutions(rows.slice(0, 1), new Objective('val_accuracy', 'max')).metrics).toEqual({
      val_accuracy: 0.8,
    });
  });

  it('a diverged execution makes the objective NaN; custom execution results count as executions', () => {
    const rows = [row(0, 0, 'loss', 0.5), row(0, 1, 'loss', Number.NaN)];
    expect(aggregateExecutions(rows, new Objective('loss', 'min')).metrics.loss).toBeNaN();
    const custom = aggregateExecutions([row(0, 0, 'loss', 0.5)], new Objective('loss', 'min'), { 1: { loss: 0.1 } });
    expect(custom.metrics.loss).toBeCloseTo(0.3, 12);
  });

  it('ranks completed trials with a finite score, best first, ties in trial order', () => {
    const trials = [
      { id: 'a', status: 'COMPLETED', score: 0.5 },
      { id: 'b', status: 'PRUNED', score: 0.9 },
      { id: 'c', status: 'COMPLETED', score: 0.7 },
      { id: 'd', status: 'COMPLETED', score: null },
      { id: 'e', status: 'COMPLETED', score: 0.7 },
      { id: 'f', status: 'FAILED', score: null },
      { id: 'g', status: 'COMPLETED', score: Number.NaN },
    ];
    expect(rankTrials(trials, 'max').map((t) => t.id)).toEqual(['c', 'e', 'a']);
    expect(rankTrials(trials, 'min').map((t) => t.id)).toEqual(['a', 'c', 'e']);
  });
});
