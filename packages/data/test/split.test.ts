import { describe, expect, it } from 'vitest';
import { complement, DataError, drawPartition } from '../src/index.js';

const classes = Int32Array.from({ length: 1000 }, (_, i) => (i < 700 ? 0 : i < 950 ? 1 : 2));

describe('drawPartition', () => {
  it('holds out the fractions asked, stratified by class, and covers every example once', () => {
    const p = drawPartition({ name: 'd', total: 1000, classes, valSplit: 0.1, testSplit: 0.2, seed: 3 });
    expect([p.train.length, p.val.length, p.test.length]).toEqual([700, 100, 200]);
    const per = (rows: Int32Array) => [0, 1, 2].map((c) => rows.filter((i) => classes[i] === c).length);
    expect(per(p.test)).toEqual([140, 50, 10]);
    expect(per(p.val)).toEqual([70, 25, 5]);
    const all = new Set([...p.train, ...p.val, ...p.test]);
    expect(all.size).toBe(1000);
    expect(Array.from(p.test)).toEqual([...p.test].sort((a, b) => a - b));
  });

  it('is deterministic with the seed and differs across seeds', () => {
    const a = drawPartition({ name: 'd', total: 1000, classes, valSplit: 0.1, testSplit: 0.1, seed: 1 });
    const b = drawPartition({ name: 'd', total: 1000, classes, valSplit: 0.1, testSplit: 0.1, seed: 1 });
    const c = drawPartition({ name: 'd', total: 1000, classes, valSplit: 0.1, testSplit: 0.1, seed: 2 });
    expect(b).toEqual(a);
    expect(c.test).not.toEqual(a.test);
  });

  it('keeps every class in training, even a rare one', () => {
    const rare = Int32Array.from({ length: 50 }, (_, i) => (i === 0 ? 1 : 0));
    const p = drawPartition({ name: 'd', total: 50, classes: rare, valSplit: 0.1, testSplit: 0.1, seed: 0 });
    expect(p.train).toContain(0);
    expect([p.val.length, p.test.length]).toEqual([5, 5]);
  });

  it('shuffles without classes (regression)', () => {
    const p = drawPartition({ name: 'd', total: 10, valSplit: 0.1, testSplit: 0.1, seed: 0 });
    expect([p.train.length, p.val.length, p.test.length]).toEqual([8, 1, 1]);
  });

  it('refuses data too small for its splits and fractions that leave nothing to train on', () => {
    expect(() => drawPartition({ name: 'd', total: 2, valSplit: 0.1, testSplit: 0.1, seed: 0 })).toThrow(DataError);
    expect(() => drawPartition({ name: 'd', total: 2, valSplit: 0.1, testSplit: 0.1, seed: 0 })).toThrow(
      'd: 2 examples are too few for a training split plus a validation and a test split (need at least 3)',
    );
    expect(() => drawPartition({ name: 'd', total: 100, valSplit: 0.5, testSplit: 0.5, seed: 0 })).toThrow(
      /must leave examples/,
    );
    expect(() => drawPartition({ name: 'd', total: 100, valSplit: -0.1, testSplit: 0.1, seed: 0 })).toThrow(
      /valSplit must be a fraction/,
    );
  });

  it('complement lists the rest in order', () => {
    expect(Array.from(complement(6, [1, 4], [0]))).toEqual([2, 3, 5]);
  });
});
