/** The dashboard's study math: which trial is best, the running best, the hyperparameter columns. */
import type { StudyJson, TrialJson } from '@tuneserve/client';
import { describe, expect, it } from 'vitest';
import {
  bestTrial,
  formatDuration,
  formatValue,
  hpPoints,
  hyperparameterNames,
  runningBest,
  scored,
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
