/**
 * The fit side of tabular preprocessing (scikit-learn's StandardScaler / OneHotEncoder / SimpleImputer
 * `fit`): statistics from the training rows only, written into the TabularInput schema that the
 * shared encoders (transform/tabular.ts) then apply to every split and to served requests.
 */
import type { CategoricalFeature, Feature, NumericFeature, TabularInput } from '@tuneserve/client';
import { DataError } from '../errors.js';
import { partitionRows, type RawTable } from '../table.js';
import { type CellValue, tabularEncoder } from '../transform/tabular.js';

export interface FitOptions {
  impute?: 'mean' | 'most-frequent';
  /** For messages. */
  file?: string;
}

export interface FittedTabular {
  schema: TabularInput;
  /** Decisions worth telling the user (an "other" slot added, imputation). */
  notes: string[];
}

/** Fits one feature per column in `columns` on the `train` rows; `heldOut` rows only decide whether an "other" slot is needed. */
export function fitTabular(
  table: RawTable,
  columns: readonly number[],
  train: ArrayLike<number>,
  heldOut: readonly ArrayLike<number>[],
  o: FitOptions = {},
): FittedTabular {
  const notes: string[] = [];
  const features: Feature[] = columns.map((col) => {
    const column = table.columns[col]!;
    if (column.kind === 'number') return fitNumeric(table, col, column.name, train, o);
    const f = fitCategorical(table, col, column.vocabulary, column.name, train, heldOut, o);
    if (f.other) notes.push(`'${f.name}' has categories outside the training split: they share an "other" slot`);
    return f;
  });
  return { schema: { kind: 'tabular', features }, notes };
}

function fitNumeric(
  table: RawTable,
  col: number,
  name: string,
  train: ArrayLike<number>,
  o: FitOptions,
): NumericFeature {
  // Welford's running mean/variance: stable in float64 over millions of float32 values.
  let count = 0;
  let mean = 0;
  let m2 = 0;
  let min = Infinity;
  let max = -Infinity;
  const freq = o.impute === 'most-frequent' ? new Map<number, number>() : undefined;
  for (let k = 0; k < train.length; k++) {
    const v = table.get(train[k]!, col);
    if (Number.isNaN(v)) continue;
    count++;
    const d = v - mean;
    mean += d / count;
    m2 += d * (v - mean);
    if (v < min) min = v;
    if (v > max) max = v;
    if (freq) freq.set(v, (freq.get(v) ?? 0) + 1);
  }
  if (count === 0) {
    throw new DataError('no values in the training split', { ...(o.file ? { file: o.file } : {}), column: name });
  }
  const std = Math.sqrt(m2 / count);
  const feature: NumericFeature = { name, type: 'number', mean, std: std > 0 ? std : 1, min, max };
  if (o.impute === 'mean') feature.impute = mean;
  else if (freq) feature.impute = mostFrequent(freq, (a, b) => a - b);
  return feature;
}

function fitCategorical(
  table: RawTable,
  col: number,
  vocabulary: readonly string[],
  name: string,
  train: ArrayLike<number>,
  heldOut: readonly ArrayLike<number>[],
  o: FitOptions,
): CategoricalFeature {
  const counts = new Float64Array(vocabulary.length);
  for (let k = 0; k < train.length; k++) {
    const v = table.get(train[k]!, col);
    if (!Number.isNaN(v)) counts[v]!++;
  }
  const categories = vocabulary.filter((_, code) => counts[code]! > 0).sort(compareText);
  if (categories.length === 0) {
    throw new DataError('no values in the training split', { ...(o.file ? { file: o.file } : {}), column: name });
  }
  let other = false;
  for (const rows of heldOut) {
    for (let k = 0; k < rows.length && !other; k++) {
      const v = table.get(rows[k]!, col);
      if (!Number.isNaN(v) && counts[v] === 0) other = true;
    }
  }
  const feature: CategoricalFeature = { name, type: 'category', categories, other };
  if (o.impute) {
    const freq = new Map<string, number>();
    counts.forEach((c, code) => {
      if (c > 0) freq.set(vocabulary[code]!, c);
    });
    feature.impute = mostFrequent(freq, compareText);
  }
  return feature;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The most frequent key; ties go to the smallest (scikit-learn's SimpleImputer does the same). */
function mostFrequent<K>(freq: Map<K, number>, compare: (a: K, b: K) => number): K {
  let best: K | undefined;
  let bestCount = -1;
  for (const [k, c] of freq) {
    if (c > bestCount || (c === bestCount && compare(k, best as K) < 0)) {
      best = k;
      bestCount = c;
    }
  }
  return best as K;
}

/**
 * Encodes every row of `table` with the shared encoders and moves row `i` to position
 * `destination[i]` (rows bound for [0, kept) in their own order), reusing the table's own buffer:
 * each raw row is read before its encoded row is written over it (front to back when the encoding
 * is narrower, back to front when wider). The table cannot be read afterwards: take anything else
 * (the target) from it first.
 */
export function encodeTable(
  table: RawTable,
  columns: readonly number[],
  schema: TabularInput,
  destination: Int32Array,
  kept: number,
): Float32Array {
  const enc = tabularEncoder(schema);
  const n = table.rows;
  const rawWidth = table.width;
  const width = enc.width;
  table.reserve(n * Math.max(width, rawWidth));
  const buf = table.data;
  const row = new Float32Array(rawWidth);
  const encodeRow = (i: number) => {
    row.set(buf.subarray(i * rawWidth, (i + 1) * rawWidth));
    for (let j = 0; j < columns.length; j++) {
      const column = table.columns[columns[j]!]!;
      const v = row[columns[j]!]!;
      const cell: CellValue = column.kind === 'number' ? v : Number.isNaN(v) ? undefined : column.vocabulary[v];
      enc.features[j]!.write(cell, buf, i * width + enc.offsets[j]!, i);
    }
  };
  if (width <= rawWidth) for (let i = 0; i < n; i++) encodeRow(i);
  else for (let i = n - 1; i >= 0; i--) encodeRow(i);
  table.rows = 0;
  const x = buf.subarray(0, n * width);
  partitionRows(x, width, destination, kept);
  return x;
}
