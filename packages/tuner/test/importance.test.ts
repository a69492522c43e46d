import { type HpValue, hyperparameterImportance, type ImportanceTrial } from '@tuneserve/tuner';
import { describe, expect, it } from 'vitest';

/** A fixed sequence in [0, 1) (a Weyl sequence per stream), so the trials are the same on every run. */
const u = (i: number, stream: number) => (i * (0.6180339887 + stream * 0.1414213562)) % 1;

function trials(n: number, make: (i: number) => { hps: Record<string, HpValue>; y: number }): ImportanceTrial[] {
  return Array.from({ length: n }, (_, i) => {
    const { hps, y } = make(i);
    return { status: 'COMPLETED', hyperparameters: hps, score: y };
  });
}

describe('hyperparameterImportance', () => {
  it('splits an additive objective as its variance splits (fANOVA): y = a + 2b gives a 1/5, b 4/5', () => {
    const study = trials(80, (i) => {
      const a = u(i, 0);
      const b = u(i, 1);
      return { hps: { a, b, c: u(i, 2) }, y: a + 2 * b };
    });
    const imp = hyperparameterImportance(study);
    expect(Object.keys(imp)).toEqual(['b', 'a', 'c']);
    expect(imp.b).toBeGreaterThan(0.65);
    expect(imp.b).toBeLessThan(0.92);
    expect(imp.a).toBeGreaterThan(0.08);
    expect(imp.a).toBeLessThan(0.3);
    expect(imp.c).toBeLessThan(0.06);
    expect(Object.values(imp).reduce((s, v) => s + v, 0)).toBeCloseTo(1, 9);
  });

  it('is deterministic, and another seed changes the forest, not the ranking', () => {
    const study = trials(40, (i) => ({ hps: { x: u(i, 0), y: u(i, 1) }, y: 5 * u(i, 0) + u(i, 1) }));
    const first = hyperparameterImportance(study);
    expect(hyperparameterImportance(study)).toEqual(first);
    const other = hyperparameterImportance(study, undefined, { seed: 7 });
    expect(other).not.toEqual(first);
    expect(Object.keys(other)).toEqual(Object.keys(first));
  });

  it('handles categorical, boolean, log-scaled and conditional hyperparameters', () => {
    const optimizers = ['adam', 'sgd', 'rmsprop'];
    const study = trials(60, (i) => {
      const optimizer = optimizers[i % 3]!;
      const layers = 1 + (Math.floor(i / 3) % 2);
      const lr = 10 ** (-4 + 3 * u(i, 1));
      const hps: Record<string, HpValue> = { optimizer, layers, learning_rate: lr, batch_norm: i % 2 === 0 };
      // units_2 only exists with two layers (a conditional hyperparameter), and does not matter.
      if (layers === 2) hps.units_2 = 16 + Math.floor(u(i, 2) * 100);
      const y = (optimizer === 'sgd' ? 0.5 : 0.9) + 0.02 * Math.log10(lr);
      return { hps, y };
    });
    const imp = hyperparameterImportance(study);
    expect(Object.keys(imp).sort()).toEqual(['batch_norm', 'layers', 'learning_rate', 'optimizer', 'units_2']);
    expect(Object.keys(imp)[0]).toBe('optimizer');
    expect(Object.keys(imp)[1]).toBe('learning_rate');
    expect(imp.optimizer).toBeGreaterThan(0.6);
    for (const unused of ['batch_norm', 'layers', 'units_2']) expect(imp[unused]).toBeLessThan(0.08);
  });

  it('counts COMPLETED trials only, reads a named final metric, and gives 0 to what never varies', () => {
    const study: ImportanceTrial[] = trials(30, (i) => ({ hps: { p: u(i, 0), q: 3, r: 'same' }, y: u(i, 0) }));
    study.push({ status: 'PRUNED', hyperparameters: { p: 0.5, q: 3, r: 'same' }, score: 1e9 });
    study.push({ status: 'FAILED', hyperparameters: { p: 0.5, q: 3, r: 'same' }, score: null });
    const imp = hyperparameterImportance(study);
    expect(imp).toEqual({ p: 1, q: 0, r: 0 });
    const byMetric = trials(30, (i) => ({ hps: { p: u(i, 0), s: u(i, 1) }, y: u(i, 0) })).map((t, i) => ({
      ...t,
      finalMetrics: { latency_ms: 10 * u(i, 1) },
    }));
    expect(Object.keys(hyperparameterImportance(byMetric, 'latency_ms'))[0]).toBe('s');
    expect(Object.keys(hyperparameterImportance(byMetric))[0]).toBe('p');
  });

  it('gives nothing to explain below two trials, and zeros for a constant objective', () => {
    expect(hyperparameterImportance([])).toEqual({});
    expect(hyperparameterImportance(trials(1, () => ({ hps: { a: 1 }, y: 1 })))).toEqual({});
    expect(hyperparameterImportance(trials(5, (i) => ({ hps: { a: i }, y: 2 })))).toEqual({ a: 0 });
  });
});
