/**
 * A table held as a loader reads it: one row-major float32 buffer (no row objects), numbers as they
 * are, categories as codes into a per-column vocabulary, missing cells as NaN. Encoding rewrites the
 * same buffer in place (transform, then reorder the rows), so a large table never exists twice.
 */

export interface NumericColumn {
  name: string;
  kind: 'number';
}

export interface CategoryColumn {
  name: string;
  kind: 'category';
  /** Code -> text, in order of first appearance. */
  vocabulary: string[];
  /** Text -> code. */
  codes: Map<string, number>;
}

export type Column = NumericColumn | CategoryColumn;

export class RawTable {
  readonly width: number;
  rows = 0;
  /** Row-major values; capacity beyond `rows` is zero pages the OS has not committed yet. */
  data: Float32Array;

  /** `expectedRows` sizes the buffer once (an estimate; it grows if exceeded). */
  constructor(
    readonly columns: Column[],
    expectedRows = 1024,
  ) {
    this.width = columns.length;
    this.data = new Float32Array(Math.max(1, expectedRows) * Math.max(1, this.width));
  }

  /** Offset of a new row in `data`; the caller fills `width` values there. */
  appendRow(): number {
    const offset = this.rows * this.width;
    if (offset + this.width > this.data.length) this.reserve(Math.ceil(this.data.length * 1.5) + this.width);
    this.rows++;
    return offset;
  }

  /** Makes `data` hold at least `values` values. */
  reserve(values: number): void {
    if (values <= this.data.length) return;
    const grown = new Float32Array(values);
    grown.set(this.data.subarray(0, this.rows * this.width));
    this.data = grown;
  }

  /** Value of row `row`, column `col` (NaN when missing). */
  get(row: number, col: number): number {
    return this.data[row * this.width + col]!;
  }

  /** Code of a category text, added to the column's vocabulary when new. */
  static code(column: CategoryColumn, text: string): number {
    let code = column.codes.get(text);
    if (code === undefined) {
      code = column.vocabulary.length;
      column.vocabulary.push(text);
      column.codes.set(text, code);
    }
    return code;
  }
}

/** Moves row i of a row-major matrix to row destination[i], in place (following the permutation's cycles). */
export function permuteRows(data: Float32Array, width: number, destination: Int32Array): void {
  const n = destination.length;
  const done = new Uint8Array(n);
  const carry = new Float32Array(width);
  const save = new Float32Array(width);
  for (let start = 0; start < n; start++) {
    if (done[start]) continue;
    carry.set(data.subarray(start * width, start * width + width));
    let pos = start;
    do {
      const d = destination[pos]!;
      save.set(data.subarray(d * width, d * width + width));
      data.set(carry, d * width);
      carry.set(save);
      done[pos] = 1;
      pos = d;
    } while (pos !== start);
  }
}
