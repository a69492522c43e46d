/**
 * Multi-objective search: the Pareto front (hand-made points), list objectives through the
 * search loop and ask-and-tell, the study view, and a study written by the previous version
 * (which summed a list objective into one score) opening with its trials ranked by the front.
 */
import { cpSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  dominates,
  loadStudy,
  MultiObjective,
  Objective,
  paretoFront,
  RandomSearch,
  type Trial,
} from '@tuneserve/tuner';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';

const dir = tempDir('multi-objective-');
const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'studies');
const maxMin = [{ direction: 'max' as const }, { direction: 'min' as const }];

describe('the Pareto front', () => {
  it('dominance compares each value in its own direction', () => {
    expect(dominates([0.9, 1], [0.8, 2], maxMin)).toBe(true);
    expect(dominates([0.9, 2], [0.8, 2], maxMin)).toBe(true); // equal on one, better on the other
    expect(dominates([0.9, 2], [0.9, 2], maxMin)).toBe(false); // equal is not domination
    expect(dominates([0.9, 3], [0.8, 2], maxMin)).toBe(false); // a trade-off
    expect(dominates([1, 1], [2, 2], [{ direction: 'min' }, { direction: 'min' }])).toBe(true);
  });

  it('keeps the non-dominated COMPLETED trials with every value finite, sorted by the first objective', () => {
    const t = (id: string, values: number[] | null, status = 'COMPLETED') => ({
      id,
      status,
      score: values?.[0] ?? null,
      values,
    });
    const trials = [
      t('a', [0.9, 10]), // front
      t('b', [0.8, 12]), // dominated by a
      t('c', [0.95, 30]), // front: best accuracy
      t('d', [0.7, 2]), // front: cheapest
      t('e', [0.99, 1], 'PRUNED'), // would dominate everything, but is not COMPLETED
      t('f', [0.9, 10]), // identical to a: both kept
      t('g', [0.97, Number.NaN]), // not finite
      t('h', null), // missing a value
      t('i', [0.85, 10]), // dominated by a (equal cost, lower accuracy)
    ];
    expect(paretoFront(trials, maxMin).map((x) => x.id)).toEqual(['c', 'a', 'f', 'd']);
    // Three objectives: a point better on the third joins the front.
    const three = [
      { status: 'COMPLETED', score: 1, values: [1, 1, 1], id: 'p' },
      { status: 'COMPLETED', score: 2, values: [2, 2, 0], id: 'q' },
      { status: 'COMPLETED', score: 2, values: [2, 2, 2], id: 'r' },
    ];
    const mins = [{ direction: 'min' as const }, { direction: 'min' as const }, { direction: 'min' as const }];
    expect(paretoFront(three, mins).map((x) => x.id)).toEqual(['p', 'q']);
    expect(paretoFront([], maxMin)).toEqual([]);
  });
});

class Tradeoff extends RandomSearch {
  override async runTrial(trial: Trial): Promise<Record<string, number>> {
    const x = trial.hyperparameters.float('x', { minValue: 0, maxValue: 1 });
    return { accuracy: 1 - (x - 1) ** 2, cost: x };
  }
}

describe('a list objective searches for the Pareto front', () => {
  it('random search: score is the first objective, values are every objective, getBestTrials() is the front', async () => {
    const tuner = new Tradeoff(null, {
      directory: dir,
      projectName: 'random-front',
      overwrite: true,
      maxTrials: 12,
      seed: 5,
      verbose: 0,
      objective: ['accuracy', new Objective('cost', 'min')],
    });
    expect(tuner.oracle.objective).toBeInstanceOf(MultiObjective);
    expect(tuner.oracle.objective.direction).toBe('max');
    await tuner.search();
    const trials = await tuner.oracle.getTrials();
    expect(trials).toHaveLength(12);
    for (const t of trials) {
      expect(t.score).toBe(t.metrics.accuracy);
      expect(t.values).toEqual([t.metrics.accuracy, t.metrics.cost]);
    }
    // accuracy rises with x and cost rises with x: every distinct trial is a trade-off, all on the front.
    const front = await tuner.oracle.getBestTrials();
    expect(front).toHaveLength(12);
    expect(front.map((t) => t.score)).toEqual([...trials.map((t) => t.score as number)].sort((a, b) => b - a));
    expect(await tuner.oracle.getBestTrials(3)).toHaveLength(3);
    await tuner.close();

    const view = await loadStudy({ directory: dir, projectName: 'random-front' });
    expect(view?.objective).toEqual({ name: 'accuracy', direction: 'max' });
    expect(view?.objectives).toEqual([
      { name: 'accuracy', direction: 'max' },
      { name: 'cost', direction: 'min' },
    ]);
    expect(view?.trials.every((t) => t.values?.length === 2 && t.score === t.values[0])).toBe(true);
  });

  it('ask-and-tell takes one number per objective; a missing objective makes the trial INVALID', async () => {
    const tuner = new RandomSearch(null, {
      directory: dir,
      projectName: 'ask-tell-front',
      overwrite: true,
      maxTrials: 3,
      seed: 1,
      verbose: 0,
      objective: [new Objective('error', 'min'), new Objective('size', 'min')],
    });
    const a = await tuner.ask();
    a.hyperparameters.int('units', { minValue: 1, maxValue: 64 });
    const told = await tuner.tell(a, [0.1, 20]);
    expect(told.status).toBe('COMPLETED');
    expect(told.values).toEqual([0.1, 20]);
    const b = await tuner.ask();
    await expect(tuner.tell(b, [0.1])).rejects.toThrow(/2 objective\(s\) \(error, size\)/);
    const c = await tuner.ask();
    const invalid = await tuner.tell(c, { error: 0.2 });
    expect(invalid.status).toBe('FAILED'); // INVALID with no retries left
    expect(invalid.message).toMatch(/objective 'size' is missing/);
    expect((await tuner.oracle.getBestTrials()).map((t) => t.trialId)).toEqual([told.trialId]);
    await tuner.close();
  });
});

describe('a study written by the previous version', () => {
  it('opens; its trials read back with the first objective as score and every value, ranked by the front', async () => {
    // Written by the previous release: list objective [accuracy max, cost min], score = cost - accuracy.
    cpSync(path.join(fixtures, 'list-objective-v5'), path.join(dir, 'list-objective-v5'), { recursive: true });
    const tuner = new RandomSearch(null, {
      directory: dir,
      projectName: 'list-objective-v5',
      verbose: 0,
      objective: [new Objective('accuracy', 'max'), new Objective('cost', 'min')],
    });
    const trials = await tuner.oracle.getTrials();
    expect(trials).toHaveLength(6);
    for (const t of trials) {
      expect(t.score).toBe(t.metrics.accuracy);
      expect(t.values).toEqual([t.metrics.accuracy, t.metrics.cost]);
    }
    // Trial 1 (0.993, 0.38) dominates 2, 3, 4, 5; trial 0 (0.91, 0) is the cheapest.
    expect((await tuner.oracle.getBestTrials()).map((t) => t.trialId)).toEqual(['1', '0']);
    await tuner.close();
    const view = await loadStudy({ directory: dir, projectName: 'list-objective-v5' });
    expect(view?.objectives?.map((o) => o.name)).toEqual(['accuracy', 'cost']);
    expect(view?.trials.find((t) => t.trialId === '1')?.score).toBeCloseTo(0.9932, 4);
  });
});
