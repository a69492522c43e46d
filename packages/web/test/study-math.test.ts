/** The dashboard's study math: which trial is best, the running best, the hyperparameter columns. */
import type { StudyJson, TrialJson } from '@tuneserve/client';
import { describe, expect, it } from 'vitest';
import {
  bestTrial,
  curveMetrics,
  formatDuration,
  formatValue,
  frontIds,
  hpPoints,
  hyperparameterNames,
  importanceNote,
  importanceSets,
  parallelCoordinates,
  paretoPoints,
  runningBest,
  scored,
  scoreSpread,
  topTrials,
  trialCurves,
} from '../src/dashboard/study-math.js';

const trial = (
  trialId: string,
  status: string,
  score: number | null,
  hyperparameters: TrialJson['hyperparameters'],
) => ({
  trialId,
  status,
  score,
  hyperparameters,
  bestStep: null,
  startedAt: null,
  endedAt: null,
  durationMs: null,
  metrics: {},
});

const study = (direction: 'min' | 'max'): StudyJson => ({
  name: 's',
  tuner: 'RandomSearch',
  objective: { name: 'val_loss', direction },
  maxTrials: 5,
  trials: [
    trial('0', 'COMPLETED', 0.4, { units: 32, optimizer: 'adam' }),
    trial('1', 'PRUNED', 0.1, { units: 64, optimizer: 'sgd' }),
    trial('2', 'COMPLETED', 0.2, { units: 16, optimizer: 'sgd', lr: 0.01 }),
    trial('3', 'FAILED', null, { units: 8, optimizer: 'adam' }),
    trial('4', 'RUNNING', null, { units: 128, optimizer: 'adam' }),
  ],
});

describe('study math', () => {
  it('the best trial is the best COMPLETED one (a pruned trial never wins), in the objective direction', () => {
    expect(bestTrial(study('min'))?.trialId).toBe('2');
    expect(bestTrial(study('max'))?.trialId).toBe('0');
    expect(bestTrial({ ...study('min'), trials: [] })).toBeUndefined();
  });

  it('scored trials, running best and hyperparameter columns', () => {
    expect(scored(study('min')).map((t) => t.trialId)).toEqual(['0', '1', '2']);
    expect(runningBest([0.4, 0.5, 0.2, 0.3], 'min')).toEqual([0.4, 0.4, 0.2, 0.2]);
    expect(runningBest([0.4, 0.5, 0.2], 'max')).toEqual([0.4, 0.5, 0.5]);
    expect(hyperparameterNames(study('min'))).toEqual(['lr', 'optimizer', 'units']);
  });

  it('numeric hyperparameters plot as numbers, others as sorted categories', () => {
    expect(hpPoints(study('min'), 'units')).toEqual({
      points: [
        { x: 32, y: 0.4 },
        { x: 64, y: 0.1 },
        { x: 16, y: 0.2 },
      ],
    });
    expect(hpPoints(study('min'), 'optimizer')).toEqual({
      points: [
        { x: 0, y: 0.4 },
        { x: 1, y: 0.1 },
        { x: 1, y: 0.2 },
      ],
      categories: ['adam', 'sgd'],
    });
  });
});

describe('table formatting', () => {
  it('formats values and durations', () => {
    expect(formatValue(null)).toBe('–');
    expect(formatValue(64)).toBe('64');
    expect(formatValue(0.123456)).toBe('0.1235');
    expect(formatValue(0.00012)).toBe('1.20e-4');
    expect(formatValue('adam')).toBe('adam');
    expect(formatValue(true)).toBe('true');
    expect(formatDuration(null)).toBe('–');
    expect(formatDuration(250.4)).toBe('250 ms');
    expect(formatDuration(12_340)).toBe('12.3 s');
    expect(formatDuration(185_000)).toBe('3 min 5 s');
  });
});

const curve = (...values: number[]) => values.map((value, step) => ({ step, value }));

describe('dashboard views', () => {
  it('top K: the k best completed trials (pruned and failed never count); 0 or less: every trial', () => {
    expect(topTrials(study('min'), 1).map((t) => t.trialId)).toEqual(['2']);
    expect(topTrials(study('min'), 5).map((t) => t.trialId)).toEqual(['2', '0']);
    expect(topTrials(study('max'), 2).map((t) => t.trialId)).toEqual(['0', '2']);
    expect(topTrials(study('min'), 0)).toHaveLength(5);
    expect(topTrials(study('min'), -3)).toHaveLength(5);
  });

  it('parallel coordinates: numeric, log and integer axes, sorted categories, null for an unused hyperparameter', () => {
    const s = study('min');
    s.trials[2]!.hyperparameters.lr = 0.0001;
    s.trials[0]!.hyperparameters.lr = 0.05;
    const { axes, colourAxis, lines } = parallelCoordinates(s, s.trials);
    expect(axes).toEqual([
      { name: 'lr', log: true },
      { name: 'optimizer', categories: ['adam', 'sgd'] },
      { name: 'units', integer: true },
      { name: 'val_loss' },
    ]);
    expect(colourAxis).toBe(3);
    // Scored trials only (the pruned one has a score; failed and running do not).
    expect(lines).toEqual([
      { trialId: '0', values: [0.05, 'adam', 32, 0.4], score: 0.4 },
      { trialId: '1', values: [null, 'sgd', 64, 0.1], score: 0.1 },
      { trialId: '2', values: [0.0001, 'sgd', 16, 0.2], score: 0.2 },
    ]);
  });

  it('a categorical hyperparameter a trial did not use is the category "–"', () => {
    const s = study('min');
    s.trials[0]!.hyperparameters.act = 'relu';
    expect(parallelCoordinates(s, s.trials).axes[0]).toEqual({ name: 'act', categories: ['relu', '–'] });
  });

  it('curves per trial for one metric, pruned ones flagged; the objective is the default metric', () => {
    const s = study('min');
    s.trials[0]!.metrics = { val_loss: curve(0.9, 0.5, 0.4), loss: curve(1, 0.6, 0.3) };
    s.trials[1]!.metrics = { val_loss: curve(0.9, 0.8) };
    expect(curveMetrics(s.trials, 'val_loss')).toEqual(['val_loss', 'loss']);
    expect(curveMetrics(s.trials, 'val_accuracy')).toEqual(['loss', 'val_loss']);
    expect(trialCurves(s.trials, 'val_loss')).toEqual([
      { trialId: '0', pruned: false, points: curve(0.9, 0.5, 0.4) },
      { trialId: '1', pruned: true, points: curve(0.9, 0.8) },
    ]);
  });

  it('importance largest first, one set per objective, its state; the cross-validation spread', () => {
    const s = { ...study('min'), importance: { units: 0.25, optimizer: 0.7, lr: 0.05 } };
    const objective = s.objective;
    expect(importanceSets(s)).toEqual([
      {
        objective,
        bars: [
          ['optimizer', 0.7],
          ['units', 0.25],
          ['lr', 0.05],
        ],
      },
    ]);
    expect(importanceSets(study('min'))).toEqual([{ objective, bars: [] }]);
    const two = {
      ...s,
      objectives: [
        { name: 'val_accuracy', direction: 'max' as const },
        { name: 'latency_ms', direction: 'min' as const },
      ],
      importanceByObjective: { latency_ms: { units: 0.9, lr: 0.1 }, val_accuracy: { lr: 0.6, units: 0.4 } },
    };
    expect(importanceSets(two).map((set) => [set.objective.name, set.bars.map(([name]) => name)])).toEqual([
      ['val_accuracy', ['lr', 'units']],
      ['latency_ms', ['units', 'lr']],
    ]);
    expect(importanceNote(s)).toBe('');
    expect(importanceNote({ ...s, importanceStatus: { state: 'computing', completedTrials: 0 } })).toBe(
      'Computing the importance of the latest trials…',
    );
    expect(importanceNote({ ...s, importanceStatus: { state: 'computing', completedTrials: 12 } })).toMatch(
      /of 12 completed trials\)$/,
    );
    expect(
      importanceNote({ ...s, importanceStatus: { state: 'failed', completedTrials: 0, error: 'worker exited' } }),
    ).toBe('Importance could not be computed: worker exited');
    expect(scoreSpread({ ...s.trials[0]!, scoreStd: 0.02 })).toBe(0.02);
    expect(scoreSpread({ ...s.trials[0]!, scoreStd: null })).toBeUndefined();
    expect(scoreSpread(s.trials[0]!)).toBeUndefined();
  });

  it('multi-objective: the front (client paretoFront), its points, and top K with the front first', () => {
    const mo: StudyJson = {
      ...study('max'),
      objective: { name: 'acc', direction: 'max' },
      objectives: [
        { name: 'acc', direction: 'max' },
        { name: 'latency_ms', direction: 'min' },
      ],
      trials: [
        { ...trial('a', 'COMPLETED', 0.9, { u: 64 }), values: [0.9, 3] },
        { ...trial('b', 'COMPLETED', 0.95, { u: 128 }), values: [0.95, 5] },
        { ...trial('c', 'COMPLETED', 0.93, { u: 128 }), values: [0.93, 6] }, // dominated by b
        { ...trial('d', 'COMPLETED', 0.8, { u: 16 }), values: [0.8, 1] },
        { ...trial('e', 'PRUNED', 0.99, { u: 16 }), values: [0.99, 0.5] }, // never on the front
      ],
    };
    expect([...frontIds(mo)].sort()).toEqual(['a', 'b', 'd']);
    expect(frontIds(study('min')).size).toBe(0);
    expect(paretoPoints(mo, 0, 1)).toEqual([
      { trialId: 'a', x: 0.9, y: 3, front: true },
      { trialId: 'b', x: 0.95, y: 5, front: true },
      { trialId: 'c', x: 0.93, y: 6, front: false },
      { trialId: 'd', x: 0.8, y: 1, front: true },
    ]);
    expect(topTrials(mo, 4).map((t) => t.trialId)).toEqual(['b', 'a', 'd', 'c']);
    const { axes, colourAxis, lines } = parallelCoordinates(mo, mo.trials);
    expect(axes.map((a) => a.name)).toEqual(['u', 'acc', 'latency_ms']);
    expect(colourAxis).toBe(1);
    expect(lines[0]).toEqual({ trialId: 'a', values: [64, 0.9, 3], score: 0.9 });
  });
});
