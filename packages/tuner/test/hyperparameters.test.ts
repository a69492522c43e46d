import {
  HyperParameterError,
  HyperParameters,
  inferDirection,
  MultiObjective,
  Objective,
  ObjectiveError,
  toObjective,
  valuesHash,
} from '@tuneserve/tuner';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

describe('HyperParameters: ranges and steps', () => {
  it('float 0..1 step 0.2 has 6 values including max (no Keras Tuner #1001)', () => {
    const hp = new HyperParameters();
    hp.float('f', { minValue: 0, maxValue: 1, step: 0.2 });
    const f = hp.getHyperParameter('f');
    expect(f?.gridValues()).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(f?.probToValue(0.999)).toBe(1);
    expect(f?.probToValue(0)).toBe(0);
  });

  it('int max is inclusive, linear default step is 1, default falls back to min', () => {
    const hp = new HyperParameters();
    expect(hp.int('units', { minValue: 16, maxValue: 64, step: 16 })).toBe(16);
    expect(hp.getHyperParameter('units')?.gridValues()).toEqual([16, 32, 48, 64]);
    hp.int('n', { minValue: 1, maxValue: 4 });
    expect(hp.getHyperParameter('n')?.gridValues()).toEqual([1, 2, 3, 4]);
  });

  it('log step is a multiplier; reverse_log mirrors it', () => {
    const hp = new HyperParameters();
    hp.int('i', { minValue: 2, maxValue: 32, step: 2, sampling: 'log' });
    hp.float('lr', { minValue: 0.001, maxValue: 10, step: 10, sampling: 'log' });
    hp.float('r', { minValue: 1, maxValue: 8, step: 2, sampling: 'reverse_log' });
    expect(hp.getHyperParameter('i')?.gridValues()).toEqual([2, 4, 8, 16, 32]);
    expect(hp.getHyperParameter('lr')?.gridValues()).toEqual([0.001, 0.01, 0.1, 1, 10]);
    expect(hp.getHyperParameter('r')?.gridValues()).toEqual([8, 7, 5, 1]);
  });

  it('continuous log sampling maps p to min*(max/min)^p and back', () => {
    const hp = new HyperParameters();
    hp.float('lr', { minValue: 1e-4, maxValue: 1e-2, sampling: 'log' });
    const lr = hp.getHyperParameter('lr');
    expect(lr?.probToValue(0.5)).toBeCloseTo(1e-3, 12);
    expect(lr?.valueToProb(1e-3)).toBeCloseTo(0.5, 12);
    hp.float('rl', { minValue: 1, maxValue: 100, sampling: 'reverse_log' });
    const rl = hp.getHyperParameter('rl');
    // reverse_log concentrates samples near max: p=0.5 gives 101 - 10 = 91.
    expect(rl?.probToValue(0.5)).toBeCloseTo(91, 9);
    expect(rl?.valueToProb(91)).toBeCloseTo(0.5, 9);
    // Continuous grid: 10 evenly spaced probabilities.
    expect(lr?.gridValues()).toHaveLength(10);
  });

  it('every sampled value lies in range and on its grid (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -50, max: 50 }),
        fc.integer({ min: 0, max: 100 }),
        fc.integer({ min: 1, max: 7 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (min, span, step, p) => {
          const hp = new HyperParameters();
          hp.int('x', { minValue: min, maxValue: min + span, step });
          const h = hp.getHyperParameter('x');
          const v = h?.probToValue(p) as number;
          expect(v).toBeGreaterThanOrEqual(min);
          expect(v).toBeLessThanOrEqual(min + span);
          expect((v - min) % step).toBe(0);
          // value -> prob -> value round-trips (what the GP relies on).
          expect(h?.probToValue(h.valueToProb(v))).toBe(v);
        },
      ),
    );
  });

  it('log int without step samples [min, max+1) and floors, inverse at bucket centres', () => {
    const hp = new HyperParameters();
    hp.int('n', { minValue: 1, maxValue: 100, sampling: 'log' });
    const h = hp.getHyperParameter('n');
    for (const v of [1, 2, 10, 57, 100]) expect(h?.probToValue(h.valueToProb(v))).toBe(v);
    expect(h?.probToValue(0.99999)).toBe(100);
  });

  it('choice, boolean and fixed encode for the GP as Keras Tuner does', () => {
    const hp = new HyperParameters();
    expect(hp.choice('opt', ['rmsprop', 'adam'])).toBe('rmsprop');
    expect(hp.boolean('bn')).toBe(false);
    expect(hp.fixed('act', 'relu')).toBe('relu');
    expect(hp.getHyperParameter('opt')?.valueToProb('adam')).toBe(0.75);
    expect(hp.getHyperParameter('opt')?.probToValue(0.6)).toBe('adam');
    expect(hp.getHyperParameter('bn')?.valueToProb(true)).toBe(0.75);
    expect(hp.getHyperParameter('bn')?.valueToProb(false)).toBe(0.25);
    expect(hp.values).toEqual({ opt: 'rmsprop', bn: false, act: 'relu' });
  });
});

describe('HyperParameters: validation errors at definition time', () => {
  const cases: [string, (hp: HyperParameters) => unknown, RegExp][] = [
    ['min > max', (hp) => hp.int('a', { minValue: 5, maxValue: 1 }), /minValue \(5\) must be <= maxValue/],
    ['log with min <= 0', (hp) => hp.float('a', { minValue: 0, maxValue: 1, sampling: 'log' }), /needs minValue > 0/],
    ['default outside range', (hp) => hp.float('a', { minValue: 0, maxValue: 1, default: 2 }), /outside/],
    ['non-integer int', (hp) => hp.int('a', { minValue: 0.5, maxValue: 2 }), /must be an integer/],
    ['log step <= 1', (hp) => hp.int('a', { minValue: 1, maxValue: 8, step: 1, sampling: 'log' }), /multiplier/],
    [
      'unknown sampling',
      (hp) => hp.float('a', { minValue: 0, maxValue: 1, sampling: 'cubic' as 'log' }),
      /sampling must be/,
    ],
    ['choice default not in values', (hp) => hp.choice('a', [1, 2], { default: 3 }), /not one of/],
    ['mixed choice types', (hp) => hp.choice('a', [1, 'x'] as (number | string)[]), /must all be numbers/],
    ['ordered strings', (hp) => hp.choice('a', ['x', 'y'], { ordered: true }), /ordered must be false/],
  ];
  for (const [name, fn, message] of cases) {
    it(name, () => {
      const hp = new HyperParameters();
      expect(() => fn(hp)).toThrow(HyperParameterError);
      expect(() => fn(new HyperParameters())).toThrow(message);
    });
  }

  it('a name redefined differently throws; the same definition twice is fine', () => {
    const hp = new HyperParameters();
    hp.int('units', { minValue: 1, maxValue: 4 });
    expect(hp.int('units', { minValue: 1, maxValue: 4 })).toBe(1);
    expect(() => hp.int('units', { minValue: 1, maxValue: 8 })).toThrow(/redefined differently/);
  });

  it('get() distinguishes unknown and inactive names', () => {
    const hp = new HyperParameters();
    hp.choice('model', ['mlp', 'cnn']);
    hp.conditionalScope('model', ['cnn'], () => hp.int('filters', { minValue: 8, maxValue: 32 }));
    expect(() => hp.get('nope')).toThrow(/Unknown hyperparameter 'nope'/);
    expect(() => hp.conditionalScope('nope', ['x'], () => 1)).toThrow(/parent 'nope' is not defined/);
  });
});

describe('HyperParameters: conditional scopes', () => {
  it('runs the scope only when the parent value matches, and tracks active values', () => {
    const hp = new HyperParameters();
    const model = hp.choice('model', ['mlp', 'cnn']);
    expect(model).toBe('mlp');
    const units = hp.conditionalScope('model', ['mlp'], () =>
      hp.int('units', { minValue: 16, maxValue: 64, step: 16 }),
    );
    const filters = hp.conditionalScope('model', ['cnn'], () => hp.int('filters', { minValue: 8, maxValue: 32 }));
    expect(units).toBe(16);
    expect(filters).toBeUndefined();
    expect(hp.values).toEqual({ model: 'mlp', units: 16 });
    expect(hp.isActive('units')).toBe(true);

    // Switch the parent: the other branch becomes active once declared.
    hp.values.model = 'cnn';
    hp.conditionalScope('model', ['cnn'], () => hp.int('filters', { minValue: 8, maxValue: 32 }));
    hp.ensureActiveValues();
    expect(hp.values).toEqual({ model: 'cnn', filters: 8 });
    expect(() => hp.get('units')).toThrow(/currently inactive/);
    expect(hp.space.map((h) => h.name)).toEqual(['model', 'units', 'filters']);
    expect(hp.space[2]?.conditions).toEqual([{ parentName: 'model', parentValues: ['cnn'] }]);
  });

  it('parentName/parentValues options equal a scope, and configs round-trip', () => {
    const hp = new HyperParameters();
    hp.boolean('dropout');
    hp.float('rate', { minValue: 0.1, maxValue: 0.5, parentName: 'dropout', parentValues: [true] });
    expect(hp.values).toEqual({ dropout: false });
    const copy = HyperParameters.fromConfig(JSON.parse(JSON.stringify(hp.toConfig())));
    copy.values.dropout = true;
    copy.ensureActiveValues();
    expect(copy.values).toEqual({ dropout: true, rate: 0.1 });
  });
});

describe('Objective', () => {
  it('infers directions like Keras Tuner, incl. TF.js names', () => {
    expect(new Objective('val_accuracy').direction).toBe('max');
    expect(new Objective('val_acc').direction).toBe('max');
    expect(new Objective('val_loss').direction).toBe('min');
    expect(inferDirection('categoricalCrossentropy')).toBe('min');
    expect(inferDirection('val_sparse_categorical_accuracy')).toBe('max');
    expect(inferDirection('weighted_mse')).toBe('min');
    expect(() => new Objective('zebra')).toThrow(ObjectiveError);
    expect(() => new Objective('zebra')).toThrow(/new Objective\('zebra', 'min' \| 'max'\)/);
  });

  it('reads val_accuracy from TF.js val_acc logs and vice versa', () => {
    expect(new Objective('val_accuracy').getValue({ val_acc: 0.9, acc: 0.8 })).toBe(0.9);
    expect(new Objective('val_acc').getValue({ val_accuracy: 0.7 })).toBe(0.7);
    expect(new Objective('val_loss').getValue({ loss: 1 })).toBeUndefined();
  });

  it('a list is a Pareto objective that acts as its first entry; none means minimize default_objective', () => {
    const multi = toObjective(['val_loss', 'val_accuracy']);
    expect(multi).toBeInstanceOf(MultiObjective);
    expect(multi.name).toBe('val_loss');
    expect(multi.direction).toBe('min');
    expect(multi.getValue({ val_loss: 0.5, val_acc: 0.9 })).toBe(0.5);
    expect((multi as MultiObjective).values({ val_loss: 0.5, val_acc: 0.9 })).toEqual([0.5, 0.9]);
    expect((multi as MultiObjective).values({ val_loss: 0.5 })).toBeUndefined();
    expect(toObjective(undefined).name).toBe('default_objective');
  });

  it('valuesHash depends on the values, not on their order', () => {
    expect(valuesHash({ b: true, a: 'x' })).toBe(valuesHash({ a: 'x', b: true }));
    expect(valuesHash({ a: 1 })).not.toBe(valuesHash({ a: 2 }));
  });
});
