/**
 * Train/validation/test splits: drawn at random (seeded, stratified by class for classification,
 * like scikit-learn's train_test_split(stratify=y)) or taken from a recorded SplitRecord so every
 * command of a study sees the same test set.
 */
import { seededRandom } from '@tuneserve/client';
import { DataError } from './errors.js';
import type { Split, SplitMembers, SplitRecord } from './types.js';

export const DEFAULT_VAL_SPLIT = 0.1;
export const DEFAULT_TEST_SPLIT = 0.1;
export const DEFAULT_SEED = 0;

/** Row indices of each part, ascending (file order). */
export interface Partition {
  train: Int32Array;
  val: Int32Array;
  test: Int32Array;
}

function shuffle(values: number[], random: () => number): void {
  for (let i = values.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = values[i]!;
    values[i] = values[j]!;
    values[j] = t;
  }
}

export function checkFraction(name: string, value: number): void {
  if (!(Number.isFinite(value) && value >= 0 && value < 1)) {
    throw new DataError(`${name} must be a fraction in [0, 1), got ${value}`);
  }
}

/**
 * How many of each group go to a part: `fraction` of the total (at least 1 when the fraction is
 * positive), spread over groups by largest remainder, never taking a group's last `keep` members.
 */
function allocate(sizes: number[], fraction: number, keep: number): number[] {
  const total = sizes.reduce((a, b) => a + b, 0);
  const wanted = fraction > 0 ? Math.max(1, Math.round(total * fraction)) : 0;
  const exact = sizes.map((n) => n * fraction);
  const counts = exact.map((e, i) => Math.min(Math.floor(e), Math.max(0, sizes[i]! - keep)));
  let left = wanted - counts.reduce((a, b) => a + b, 0);
  const order = sizes
    .map((_, i) => i)
    .sort((a, b) => exact[b]! - Math.floor(exact[b]!) - (exact[a]! - Math.floor(exact[a]!)) || a - b);
  // Largest remainders first; then any group with room, largest first.
  const byRoom = sizes.map((_, i) => i).sort((a, b) => sizes[b]! - sizes[a]! || a - b);
  for (const list of [order, byRoom, byRoom]) {
    for (const i of list) {
      if (left <= 0) break;
      if (counts[i]! < sizes[i]! - keep) {
        counts[i]!++;
        left--;
      }
    }
  }
  return counts;
}

export interface DrawOptions {
  /** Data set name, for messages. */
  name: string;
  total: number;
  /** Class index of each example (stratify), or undefined (plain shuffle). */
  classes?: ArrayLike<number>;
  valSplit: number;
  testSplit: number;
  seed: number;
}

/** The examples of each class (indexed by class; a class without examples is a hole), or one group of all without classes. */
export function classGroups(total: number, classes?: ArrayLike<number>): number[][] {
  if (!classes) return [Array.from({ length: total }, (_, i) => i)];
  const groups: number[][] = [];
  for (let i = 0; i < total; i++) {
    const c = classes[i]!;
    const group = groups[c] ?? [];
    groups[c] = group;
    group.push(i);
  }
  return groups;
}

/** Draws val and test at random; throws DataError when the data is too small for the parts asked for. */
export function drawPartition(o: DrawOptions): Partition {
  checkFraction('valSplit', o.valSplit);
  checkFraction('testSplit', o.testSplit);
  if (o.valSplit + o.testSplit >= 1) {
    throw new DataError(`valSplit + testSplit must leave examples for training, got ${o.valSplit} + ${o.testSplit}`);
  }
  const groups = classGroups(o.total, o.classes);
  const present = groups.filter((g) => g !== undefined && g.length > 0);
  const needed = present.length + (o.valSplit > 0 ? 1 : 0) + (o.testSplit > 0 ? 1 : 0);
  if (o.total < needed) {
    throw new DataError(
      `${o.name}: ${o.total} examples are too few for a training split${o.classes ? ` holding each of ${present.length} classes` : ''}` +
        ` plus ${o.valSplit > 0 ? 'a validation' : 'no validation'} and ${o.testSplit > 0 ? 'a test' : 'no test'} split (need at least ${needed})`,
    );
  }
  const random = seededRandom(o.seed);
  for (const g of present) shuffle(g, random);
  const sizes = present.map((g) => g.length);
  const testCounts = allocate(sizes, o.testSplit, 1);
  const afterTest = sizes.map((n, i) => n - testCounts[i]!);
  // The validation fraction is of the whole data set, drawn from what the test split left.
  const valFraction = o.valSplit * (o.total / afterTest.reduce((a, b) => a + b, 0));
  const valCounts = allocate(afterTest, Math.min(valFraction, 0.999), 1);
  // Mark each example's part, then list each part in file order.
  const part = new Uint8Array(o.total);
  present.forEach((g, i) => {
    const t = testCounts[i]!;
    const v = valCounts[i]!;
    for (let k = 0; k < t; k++) part[g[k]!] = 2;
    for (let k = t; k < t + v; k++) part[g[k]!] = 1;
  });
  const lists = [0, 1, 2].map((p) => {
    const out = new Int32Array(part.reduce((n, q) => n + (q === p ? 1 : 0), 0));
    let k = 0;
    for (let i = 0; i < o.total; i++) if (part[i] === p) out[k++] = i;
    return out;
  });
  return { train: lists[0]!, val: lists[1]!, test: lists[2]! };
}

/** The training part given the held-out ones: every other index, ascending. */
export function complement(total: number, ...heldOut: ArrayLike<number>[]): Int32Array {
  const taken = new Uint8Array(total);
  for (const part of heldOut) for (let i = 0; i < part.length; i++) taken[part[i]!] = 1;
  const out = new Int32Array(total - taken.reduce((a, b) => a + b, 0));
  let k = 0;
  for (let i = 0; i < total; i++) if (!taken[i]) out[k++] = i;
  return out;
}

/** Checks a recorded split belongs to this data set; throws DataError saying what differs. */
export function checkRecord(record: SplitRecord, name: string, total: number): void {
  if (record.version !== 1) throw new DataError(`split record: unsupported version ${String(record.version)}`);
  if (record.dataset !== name || record.total !== total) {
    throw new DataError(
      `split record is for '${record.dataset}' with ${record.total} examples, but the data is '${name}' with ${total} examples`,
    );
  }
}

/** Row indices of a recorded part; throws DataError when the record lists files or out-of-range rows. */
export function recordedRows(members: SplitMembers, total: number, part: string): Int32Array {
  if (!('rows' in members)) throw new DataError(`split record: the ${part} split lists no row indices`);
  const rows = Int32Array.from(members.rows);
  for (const r of rows) {
    if (!(r >= 0 && r < total)) throw new DataError(`split record: ${part} row ${r} is outside 0..${total - 1}`);
  }
  return rows;
}

/** The rows of `split` at `indices` (copied, in that order); `width` values per row. */
export function gather(x: Float32Array, y: Float32Array, width: number, indices: ArrayLike<number>): Split {
  const outX = new Float32Array(indices.length * width);
  const outY = new Float32Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]!;
    outX.set(x.subarray(i * width, (i + 1) * width), k * width);
    outY[k] = y[i]!;
  }
  return { x: outX, y: outY, count: indices.length };
}

/** Splits stacked one after the other (trainFull = train + val). */
export function concat(...splits: Split[]): Split {
  const count = splits.reduce((a, s) => a + s.count, 0);
  const x = new Float32Array(splits.reduce((a, s) => a + s.x.length, 0));
  const y = new Float32Array(count);
  let xo = 0;
  let yo = 0;
  for (const s of splits) {
    x.set(s.x, xo);
    y.set(s.y, yo);
    xo += s.x.length;
    yo += s.count;
  }
  return { x, y, count };
}

/** The first n examples of a split, sharing its memory (small-budget runs and tests). */
export function head(split: Split, n: number): Split {
  if (n >= split.count) return split;
  const width = split.count > 0 ? split.x.length / split.count : 0;
  return { x: split.x.subarray(0, n * width), y: split.y.subarray(0, n), count: n };
}
