import { describe, expect, it } from 'vitest';
import { DataError, drawFolds, foldSplits } from '../src/index.js';

// 103 examples: 70 of class 0, 25 of class 1, 8 of class 2 (in blocks, so an unshuffled deal would show).
const classes = Int32Array.from({ length: 103 }, (_, i) => (i < 70 ? 0 : i < 95 ? 1 : 2));

describe('drawFolds', () => {
  it('puts every example in exactly one fold, sizes within one, each class spread within one per fold', () => {
    const folds = drawFolds({ name: 'd', total: 103, k: 5, classes, seed: 7 });
    expect(folds).toHaveLength(5);
    const all = folds.flatMap((f) => Array.from(f));
    expect(all.sort((a, b) => a - b)).toEqual(Array.from({ length: 103 }, (_, i) => i));
    const sizes = folds.map((f) => f.length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    for (const c of [0, 1, 2]) {
      const counts = folds.map((f) => f.filter((i) => classes[i] === c).length);
      expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    }
    for (const f of folds) expect(Array.from(f)).toEqual([...f].sort((a, b) => a - b));
  });

  it('is the same for the same seed, shuffled (not blocks), and differs across seeds', () => {
    const a = drawFolds({ name: 'd', total: 103, k: 4, classes, seed: 1 });
    expect(drawFolds({ name: 'd', total: 103, k: 4, classes, seed: 1 })).toEqual(a);
    expect(drawFolds({ name: 'd', total: 103, k: 4, classes, seed: 2 })).not.toEqual(a);
    // Class 0 is rows 0..69: a fold of consecutive rows would have a gap of 1 only.
    const zeros = Array.from(a[0]!).filter((i) => i < 70);
    expect(zeros.some((v, i) => i > 0 && v - zeros[i - 1]! !== 4)).toBe(true);
  });

  it('shuffles without classes (regression), every example once', () => {
    const folds = drawFolds({ name: 'd', total: 11, k: 3, seed: 0 });
    expect(folds.map((f) => f.length).sort()).toEqual([3, 4, 4]);
    expect(new Set(folds.flatMap((f) => Array.from(f))).size).toBe(11);
  });

  it('refuses fewer than 2 folds, more folds than examples, and more folds than the smallest class', () => {
    expect(() => drawFolds({ name: 'd', total: 10, k: 1, seed: 0 })).toThrow(/at least 2 folds, got 1/);
    expect(() => drawFolds({ name: 'd', total: 3, k: 4, seed: 0 })).toThrow(/3 examples are too few for 4 folds/);
    const err = (() => {
      try {
        drawFolds({ name: 'iris', total: 103, k: 9, classes, labels: ['a', 'b', 'c'], seed: 0 });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toMatch(
      /iris: class "c" has 8 examples outside the test split, fewer than the 9 folds/,
    );
    expect((err as Error).message).toMatch(/use at most 8 folds/);
  });
});

describe('foldSplits', () => {
  it('validates on the fold and trains on the other folds, rows kept whole', () => {
    const total = 10;
    const pool = {
      x: Float32Array.from({ length: total * 2 }, (_, i) => i),
      y: Float32Array.from({ length: total }, (_, i) => i % 2),
      count: total,
    };
    const folds = drawFolds({ name: 'd', total, k: 3, classes: pool.y, seed: 3 });
    for (let f = 0; f < 3; f++) {
      const { train, val } = foldSplits(pool, folds, f);
      expect(val.count).toBe(folds[f]!.length);
      expect(train.count + val.count).toBe(total);
      const rows = (s: { x: Float32Array; count: number }) =>
        Array.from({ length: s.count }, (_, k) => s.x[2 * k]! / 2);
      expect(rows(val)).toEqual(Array.from(folds[f]!));
      expect(new Set([...rows(train), ...rows(val)]).size).toBe(total);
      for (let k = 0; k < val.count; k++) {
        const row = rows(val)[k]!;
        expect(val.x[2 * k + 1]).toBe(2 * row + 1);
        expect(val.y[k]).toBe(row % 2);
      }
    }
  });
});
