/**
 * Streaming a CSV file (or a byte range of it) into a RawTable: the header, a sample that fixes which
 * columns are numbers and which are categories, then every row as float32 values. TableReader takes
 * records from csv-parse (parseFile here) or field byte ranges from the byte reader (csv-bytes.ts).
 * Used by the CSV loader on the main thread and by its worker thread for the second half of a file.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { type CsvError, type Info, parse } from 'csv-parse';
import { DataError } from '../errors.js';
import { type Column, RawTable } from '../table.js';
import type { LoadOptions } from '../types.js';

/** Cell texts read as missing (pandas' defaults, plus UCI's '?'). */
const MISSING = new Set(['', 'NA', 'N/A', 'n/a', 'NaN', 'nan', 'null', 'NULL', 'None', '?']);
/** Rows read before deciding which columns are numbers and which are categories. */
export const SAMPLE_ROWS = 1000;
/** An integer target with at most this many distinct values is taken as class labels. */
export const MAX_INFERRED_CLASSES = 20;
/** More distinct target values than this cannot be a classification. */
export const MAX_CLASSES = 1000;

function isMissing(text: string): boolean {
  // Every missing token starts with N, n or ?; checking that first keeps the set lookup off numbers.
  if (text.length === 0) return true;
  const c = text.charCodeAt(0);
  return (c === 78 || c === 110 || c === 63) && MISSING.has(text);
}

/**
 * A problem found while streaming, located by record (0 = the header). Streaming without
 * csv-parse's per-record info object is ~15% faster; the line is looked up only when reporting.
 */
export class RowError extends Error {
  constructor(
    readonly record: number,
    readonly problem: string,
    readonly column?: string,
  ) {
    super(problem);
  }
}

/** The 1-based line on which record `record` (0 = the header) ends, by parsing the file again up to it. */
export async function lineOfRecord(file: string, delimiter: string, record: number): Promise<number | undefined> {
  let line: number | undefined;
  const parser = parse({
    delimiter,
    bom: true,
    skip_empty_lines: true,
    relax_column_count: true,
    to: record + 1,
    on_record: (_record: string[], context: Info & { lines: number }) => {
      line = context.lines;
      return undefined;
    },
  });
  const done = pipeline(createReadStream(file), parser);
  parser.resume();
  await done.catch(() => undefined);
  return line;
}

function clean(text: string): string {
  // Trim only when needed: most cells have no surrounding blanks, and this runs for every cell.
  return text.length > 0 && (text.charCodeAt(0) <= 32 || text.charCodeAt(text.length - 1) <= 32) ? text.trim() : text;
}

const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);

/**
 * The number a cell holds (NaN if none). Plain decimals of up to 15 digits ("-12.5", "3") take a
 * fast path: digits as one integer N < 2^53 and one division by an exact power of ten, which IEEE
 * rounds correctly, so the result is exactly Number(text) at a fraction of its cost (number
 * conversion was a quarter of a large load). Anything else (exponents, hex, blanks) goes to Number.
 */
export function asNumber(text: string): number {
  const n = text.length;
  let i = 0;
  let negative = false;
  const first = text.charCodeAt(0);
  if (first === 45 || first === 43) {
    negative = first === 45;
    i = 1;
  }
  let digits = 0;
  let value = 0;
  let scale = -1;
  for (; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      value = value * 10 + (c - 48);
      digits++;
      if (scale >= 0) scale++;
    } else if (c === 46 && scale < 0) {
      scale = 0;
    } else {
      break;
    }
  }
  if (i === n && digits > 0 && digits <= 15) {
    const v = scale > 0 ? value / POW10[scale]! : value;
    return negative ? -v : v;
  }
  const v = Number(text);
  return Number.isFinite(v) ? v : Number.NaN;
}

/**
 * asNumber's fast path over bytes [start, end) of a cell: a plain decimal of up to 15 digits with
 * nothing around it (sign, digits, one point), as the same exact integer-and-power-of-ten division,
 * so the value is exactly asNumber of the cell's text. NaN for anything else: the caller then takes
 * the text path, so blanks, exponents, missing tokens and errors behave as they do for csv-parse's records.
 * The digit loop is asNumber's twin on purpose: sharing it through a character accessor would cost a
 * call per byte in the load's hottest loop (number.test.ts checks the two agree).
 */
export function plainNumber(bytes: Uint8Array, start: number, end: number): number {
  let i = start;
  let negative = false;
  const first = bytes[i];
  if (first === 45 || first === 43) {
    negative = first === 45;
    i++;
  }
  let digits = 0;
  let value = 0;
  let scale = -1;
  for (; i < end; i++) {
    const c = bytes[i]!;
    if (c >= 48 && c <= 57) {
      value = value * 10 + (c - 48);
      digits++;
      if (scale >= 0) scale++;
    } else if (c === 46 && scale < 0) {
      scale = 0;
    } else {
      return Number.NaN;
    }
  }
  if (digits === 0 || digits > 15) return Number.NaN;
  const v = scale > 0 ? value / POW10[scale]! : value;
  return negative ? -v : v;
}

/** The delimiter: tab for .tsv/.tab, else whichever of , ; tab occurs most in the header line. */
export async function sniffDelimiter(path: string): Promise<string> {
  if (/\.(tsv|tab)$/i.test(path)) return '\t';
  const handle = await open(path, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(65_536), 0, 65_536, 0);
    const head = buffer.subarray(0, bytesRead).toString('utf8').split(/\r?\n/, 1)[0] ?? '';
    const count = (d: string) => head.split(d).length - 1;
    return [',', ';', '\t'].reduce((best, d) => (count(d) > count(best) ? d : best), ',');
  } finally {
    await handle.close();
  }
}

export interface TargetStats {
  /** Every numeric target value so far is an integer. */
  integers: boolean;
  /** Distinct numeric target values, counted up to MAX_CLASSES + 1. */
  distinct: Set<number>;
  /** The first text value and its line (for the regression-on-text error). */
  firstText?: { value: string; record: number };
}

/** Streams a file into a RawTable: header, then a sample that fixes the column kinds, then the rest. */
export class TableReader {
  header: string[] | undefined;
  /** Source column of each table column: the features, then the target last. */
  source: number[] = [];
  /** Fields of every record: the header's. */
  fieldCount = 0;
  /** The first rows, with their record index. */
  private sample: { record: string[]; index: number }[] = [];
  table: RawTable | undefined;
  readonly target: TargetStats = { integers: true, distinct: new Set() };
  targetName = '';
  featureNames: string[] = [];
  delimiter = ',';

  /** Index of the last record read (0 = the header). */
  record = -1;
  /** Called once the column kinds are fixed; returns the table to fill (default: a new one sized from the sample). */
  allocate: ((columns: Column[], source: number[], bytesPerRow: number) => RawTable) | undefined;
  /** Bytes of the sample's cells (sizes the table). */
  private sampleBytes = 0;

  constructor(
    private readonly file: string,
    private readonly fileSize: number,
    private readonly o: LoadOptions,
  ) {}

  /** Reads a headerless part of a file whose columns another reader has fixed (a worker thread's range). */
  preset(fieldCount: number, source: number[], table: RawTable): void {
    this.header = [];
    this.fieldCount = fieldCount;
    this.source = source;
    this.table = table;
  }

  onRecord(record: string[]): void {
    const index = ++this.record;
    if (!this.header) this.setHeader(record);
    else if (this.table) this.ingest(record, index);
    else {
      this.checkLength(record.length, index);
      this.sample.push({ record, index });
      for (const cell of record) this.sampleBytes += cell.length + 1;
      if (this.sample.length >= SAMPLE_ROWS) this.decideKinds();
    }
  }

  private setHeader(record: string[]): void {
    const names = record.map((n, i) => clean(n) || `column_${i + 1}`);
    const seen = new Set<string>();
    for (const n of names) {
      if (seen.has(n))
        throw new DataError('duplicate column name in the header', { file: this.file, line: 1, column: n });
      seen.add(n);
    }
    const index = (n: string, role: string): number => {
      const i = names.indexOf(n);
      if (i < 0) {
        throw new DataError(`no such ${role} column (the header has: ${names.join(', ')})`, {
          file: this.file,
          line: 1,
          column: n,
        });
      }
      return i;
    };
    this.targetName = this.o.target ?? names[names.length - 1]!;
    const target = index(this.targetName, 'target');
    const features = (this.o.features ?? names.filter((_, i) => i !== target)).map((n) => {
      if (n === this.targetName) {
        throw new DataError('is the target; it cannot also be a feature', { file: this.file, line: 1, column: n });
      }
      return index(n, 'feature');
    });
    for (const c of this.o.categorical ?? []) index(c, 'categorical');
    if (features.length === 0) throw new DataError('no feature columns besides the target', { file: this.file });
    this.header = names;
    this.fieldCount = names.length;
    this.featureNames = features.map((i) => names[i]!);
    this.source = [...features, target];
  }

  /** Fixes each column's kind from the sample: numeric when every present value is a number. */
  decideKinds(): void {
    const names = this.header;
    if (!names || this.table) return;
    const forced = new Set(this.o.categorical ?? []);
    const columns: Column[] = this.source.map((src) => {
      const name = names[src]!;
      const numeric =
        !forced.has(name) &&
        this.sample.every(({ record }) => {
          const t = clean(record[src] ?? '');
          return isMissing(t) || !Number.isNaN(asNumber(t));
        });
      return numeric ? { name, kind: 'number' } : { name, kind: 'category', vocabulary: [], codes: new Map() };
    });
    // Size the buffer once from the sample's bytes per row (uncommitted pages cost nothing if over).
    const bytesPerRow = Math.max(1, this.sampleBytes) / Math.max(1, this.sample.length);
    this.table = this.allocate
      ? this.allocate(columns, this.source, bytesPerRow)
      : new RawTable(columns, Math.ceil((this.fileSize / bytesPerRow) * 1.2) + 1024);
    for (const { record, index } of this.sample) this.ingest(record, index);
    this.sample = [];
  }

  private checkLength(fields: number, index: number): void {
    if (fields !== this.fieldCount) {
      throw new RowError(index, `ragged row: ${fields} fields, the header has ${this.fieldCount}`);
    }
  }

  private ingest(record: string[], index: number): void {
    this.checkLength(record.length, index);
    const offset = this.table!.appendRow();
    for (let j = 0; j < this.source.length; j++) this.put(j, record[this.source[j]!]!, offset, index);
  }

  /**
   * A record given as byte ranges [starts[k], ends[k]) of `bytes` (the byte reader). Before the
   * column kinds are fixed it goes through onRecord as strings; after, a plain decimal in a numeric
   * column is parsed from its bytes and every other cell goes through the same `put` as csv-parse's records.
   */
  onFields(bytes: Buffer, starts: Int32Array, ends: Int32Array, count: number): void {
    const table = this.table;
    if (!table || !this.header) {
      const record = new Array<string>(count);
      for (let k = 0; k < count; k++) record[k] = bytes.toString('utf8', starts[k], ends[k]);
      this.onRecord(record);
      return;
    }
    const index = ++this.record;
    this.checkLength(count, index);
    const offset = table.appendRow();
    const block = table.data;
    const last = this.source.length - 1;
    for (let j = 0; j <= last; j++) {
      const k = this.source[j]!;
      if (table.columns[j]!.kind === 'number') {
        const v = plainNumber(bytes, starts[k]!, ends[k]!);
        if (!Number.isNaN(v)) {
          block[offset + j] = v;
          if (j === last) this.noteTarget(v);
          continue;
        }
      }
      this.put(j, bytes.toString('utf8', starts[k], ends[k]), offset, index);
    }
  }

  /** One cell's text into column j of the row at `offset`: the single place cell rules live. */
  private put(j: number, raw: string, offset: number, index: number): void {
    const table = this.table!;
    const block = table.data;
    const last = this.source.length - 1;
    const column = table.columns[j]!;
    const text = clean(raw);
    if (isMissing(text)) {
      if (j === last) throw new RowError(index, 'missing target value (every row needs one)', column.name);
      if (!this.o.impute) {
        throw new RowError(
          index,
          'missing value (use --impute mean|most-frequent to fill missing values)',
          column.name,
        );
      }
      block[offset + j] = Number.NaN;
    } else if (column.kind === 'number') {
      const v = asNumber(text);
      if (Number.isNaN(v)) {
        throw new RowError(
          index,
          `${JSON.stringify(text)} is not a number, but the column's first values are (list it in --categorical to read it as categories)`,
          column.name,
        );
      }
      block[offset + j] = v;
      if (j === last) this.noteTarget(v);
    } else {
      block[offset + j] = RawTable.code(column, text);
      if (j === last && !this.target.firstText) this.target.firstText = { value: text, record: index };
    }
  }

  private noteTarget(v: number): void {
    if (!Number.isInteger(v)) this.target.integers = false;
    if (this.target.distinct.size <= MAX_CLASSES) this.target.distinct.add(v);
  }
}

export interface RangeOptions {
  delimiter: string;
  /** First byte to read (default 0). */
  start?: number;
  /** Last byte to read, inclusive (default: to the end). */
  end?: number;
  /** Bytes read so far (progress). */
  onBytes?: (bytes: number) => void;
  /** Called for each chunk read (to notice quote characters). */
  onChunk?: (chunk: Buffer) => void;
}

/**
 * Parses the file (or a range of it) into `reader`. Problems in a record are RowErrors located by
 * record index; other malformed CSV (an unclosed quote) is a DataError with csv-parse's line.
 */
export async function parseFile(file: string, reader: TableReader, o: RangeOptions): Promise<void> {
  // Row lengths are checked by the reader (the same check in a headerless range), not by csv-parse.
  const parser = parse({ delimiter: o.delimiter, bom: true, skip_empty_lines: true, relax_column_count: true });
  // Records are taken as soon as parsed and dropped after ingest: none is kept.
  parser.on('readable', () => {
    try {
      let record: string[] | null = parser.read();
      while (record !== null) {
        reader.onRecord(record);
        record = parser.read();
      }
    } catch (err) {
      parser.destroy(err as Error);
    }
  });
  const input = createReadStream(file, {
    highWaterMark: 1 << 20,
    ...(o.start !== undefined ? { start: o.start } : {}),
    ...(o.end !== undefined ? { end: o.end } : {}),
  });
  let done = 0;
  input.on('data', (chunk) => {
    done += chunk.length;
    o.onChunk?.(chunk as Buffer);
    o.onBytes?.(done);
  });
  try {
    await pipeline(input, parser);
  } catch (err) {
    if (!(err instanceof Error) || !('code' in err) || typeof err.code !== 'string' || !err.code.startsWith('CSV_'))
      throw err;
    const csv = err as CsvError & { lines?: number };
    throw new DataError(csv.message.replace(/ on line \d+$/, ''), { file, ...(csv.lines ? { line: csv.lines } : {}) });
  }
}

/** What the CSV loader's worker thread is asked to read. */
export interface RangeJob {
  file: string;
  /** First byte (a record boundary). */
  start: number;
  delimiter: string;
  fieldCount: number;
  source: number[];
  columns: { name: string; kind: 'number' | 'category' }[];
  impute?: 'mean' | 'most-frequent';
  buffer: SharedArrayBuffer;
  /** The worker's region of `buffer`, in float32 values. */
  offset: number;
  length: number;
}

export interface RangeDone {
  ok: true;
  rows: number;
  records: number;
  /** Per column: the worker's category vocabulary (its codes index it), null for numbers. */
  vocabularies: (string[] | null)[];
  integers: boolean;
  distinct: number[];
  firstText?: { value: string; record: number };
  /** A quote character was seen: the range may not have started on a record boundary. */
  quoted: boolean;
}

export type RangeResult =
  | RangeDone
  | { ok: false; kind: 'row'; record: number; problem: string; column?: string }
  | { ok: false; kind: 'data' | 'full' | 'crash'; message: string };
