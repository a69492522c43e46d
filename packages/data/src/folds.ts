/**
 * K-fold cross-validation over a pool of examples (a data set's train + val): each example lands in
 * exactly one fold, drawn with a seed and stratified by class for classification (scikit-learn's
 * StratifiedKFold(shuffle=True)): fold sizes differ by at most one, and so do a class's counts per fold.
 */

import { seededRandom } from '@tuneserve/client';
import { DataError } from './errors.js';
import { classGroups, complement, gather } from './split.js';
import type { Split } from './types.js';

export interface FoldOptions {
  /** Data set name, for messages. */
  name: string;
  /** Examples in the pool. */
  total: number;
  /** Number of folds, at least 2. */
  k: number;
  /** Class index of each example (stratify), or undefined (plain shuffle: regression). */
  classes?: ArrayLike<number>;
  /** Class names by index, for messages. */
  labels?: readonly string[];
  seed: number;
}

/** Each fold's members (its validation examples), ascending. Throws DataError when the pool cannot make k folds. */
export function drawFolds(o: FoldOptions): Int32Array[] {
  if (!(Number.isInteger(o.k) && o.k >= 2)) {
    throw new DataError(`cross-validation needs at least 2 folds, got ${o.k}`);
  }
  if (o.total < o.k) {
    throw new DataError(`${o.name}: ${o.total} examples are too few for ${o.k} folds`);
  }
  const groups = classGroups(o.total, o.classes);
  if (o.classes) {
    groups.forEach((g, c) => {
      if (g.length < o.k) {
        throw new DataError(
          `${o.name}: class ${JSON.stringify(o.labels?.[c] ?? String(c))} has ${g.length} example${g.length === 1 ? '' : 's'} ` +
            `outside the test split, fewer than the ${o.k} folds (stratified folds need one per class in each); use at most ${smallest(groups)} folds`,
        );
      }
    });
  }
  const random = seededRandom(o.seed);
  const fold = new Int32Array(o.total);
  // Dealing every class in turn from where the previous one stopped keeps whole folds within one of each other.
  let next = 0;
  for (const g of groups) {
    if (!g) continue;
    for (let i = g.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [g[i], g[j]] = [g[j]!, g[i]!];
    }
    for (const member of g) fold[member] = next++ % o.k;
  }
  const sizes = new Int32Array(o.k);
  for (const f of fold) sizes[f]!++;
  const out = Array.from(sizes, (n) => new Int32Array(n));
  const filled = new Int32Array(o.k);
  for (let i = 0; i < o.total; i++) {
    const f = fold[i]!;
    out[f]![filled[f]!++] = i;
  }
  return out;
}

function smallest(groups: number[][]): number {
  return Math.min(...groups.filter(Boolean).map((g) => g.length));
}

/** Fold `index` of `pool` as a training split (the other folds, in pool order) and a validation split (the fold). */
export function foldSplits(pool: Split, folds: readonly Int32Array[], index: number): { train: Split; val: Split } {
  const members = folds[index];
  if (!members) throw new RangeError(`fold ${index} of ${folds.length}`);
  const width = pool.count > 0 ? pool.x.length / pool.count : 0;
  return {
    train: gather(pool.x, pool.y, width, complement(pool.count, members)),
    val: gather(pool.x, pool.y, width, members),
  };
}
