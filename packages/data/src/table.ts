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

/** A table written into a fixed region (a thread's part of a shared buffer) ran out of room. */
export class TableFullError extends Error {
  override name = 'TableFullError';
}

export class RawTable {
  readonly width: number;
  rows = 0;
  /** Row-major values; capacity beyond `rows` is zero pages the OS has not committed yet. */
  data: Float32Array;
  /** Writing into a region of someone else's buffer: it cannot grow. */
  fixed: boolean;

  /**
   * `expectedRows` sizes the buffer once (an estimate; it grows if exceeded), or `region` is a
   * fixed buffer to fill (TableFullError when it is full).
   */
  constructor(
    readonly columns: Column[],
    expectedRows = 1024,
    region?: Float32Array,
  ) {
    this.width = columns.length;
    this.fixed = region !== undefined;
    this.data = region ?? new Float32Array(Math.max(1, expectedRows) * Math.max(1, this.width));
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
    if (this.fixed) throw new TableFullError(`table region of ${this.data.length} values is full`);
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

/**
 * Moves row i of a row-major matrix to row destination[i], in place, where the rows bound for
 * [0, kept) keep their order (the training split). Those are compacted forwards (sequential
 * copies, each onto rows already handled); the others (validation, test: a small share) wait in a
 * side buffer and are written after. Much faster than following a permutation's cycles through a
 * large matrix, for a side buffer of the held-out rows only.
 */
export function partitionRows(data: Float32Array, width: number, destination: Int32Array, kept: number): void {
  const n = destination.length;
  const held = new Float32Array((n - kept) * width);
  for (let i = 0; i < n; i++) {
    const d = destination[i]!;
    if (d >= kept) held.set(data.subarray(i * width, (i + 1) * width), (d - kept) * width);
    else if (d !== i) data.copyWithin(d * width, i * width, (i + 1) * width);
  }
  data.set(held, kept * width);
}
