/**
 * CSV / TSV tables with a header row. The file is streamed through csv-parse straight into a
 * float32 RawTable (numbers as they are, text as category codes): no array of row objects, so a
 * million rows cost about their float32 size. Column kinds come from the first rows; the target
 * defaults to the last column and the task is inferred (text or a few distinct integers:
 * classification) unless given. Preprocessing is fitted on the training split only.
 */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { type CsvError, type Info, parse } from 'csv-parse';
import { DataError } from '../errors.js';
import { encodeTable, fitTabular } from '../fit/tabular.js';
import {
  checkRecord,
  complement,
  DEFAULT_SEED,
  DEFAULT_TEST_SPLIT,
  DEFAULT_VAL_SPLIT,
  drawPartition,
  type Partition,
  recordedRows,
} from '../split.js';
import { type CategoryColumn, type Column, RawTable } from '../table.js';
import type { DataLoader, Dataset, LoadOptions, Split, SplitRecord, Task } from '../types.js';

/** Cell texts read as missing (pandas' defaults, plus UCI's '?'). */
const MISSING = new Set(['', 'NA', 'N/A', 'n/a', 'NaN', 'nan', 'null', 'NULL', 'None', '?']);
/** Rows read before deciding which columns are numbers and which are categories. */
const SAMPLE_ROWS = 1000;
/** An integer target with at most this many distinct values is taken as class labels. */
const MAX_INFERRED_CLASSES = 20;
/** More distinct target values than this cannot be a classification. */
const MAX_CLASSES = 1000;

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
class RowError extends Error {
  constructor(
    readonly record: number,
    readonly problem: string,
    readonly column?: string,
  ) {
    super(problem);
  }
}

/** The 1-based line on which record `record` (0 = the header) ends, by parsing the file again up to it. */
async function lineOfRecord(file: string, delimiter: string, record: number): Promise<number | undefined> {
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

function asNumber(text: string): number {
  const v = Number(text);
  return Number.isFinite(v) ? v : Number.NaN;
}

/** The delimiter: tab for .tsv/.tab, else whichever of , ; tab occurs most in the header line. */
async function sniffDelimiter(path: string): Promise<string> {
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

interface TargetStats {
  /** Every numeric target value so far is an integer. */
  integers: boolean;
  /** Distinct numeric target values, counted up to MAX_CLASSES + 1. */
  distinct: Set<number>;
  /** The first text value and its line (for the regression-on-text error). */
  firstText?: { value: string; record: number };
}

/** Streams a file into a RawTable: header, then a sample that fixes the column kinds, then the rest. */
class TableReader {
  header: string[] | undefined;
  /** Source column of each table column: the features, then the target last. */
  private source: number[] = [];
  /** The first rows, with their record index. */
  private sample: { record: string[]; index: number }[] = [];
  table: RawTable | undefined;
  readonly target: TargetStats = { integers: true, distinct: new Set() };
  targetName = '';
  featureNames: string[] = [];
  delimiter = ',';

  /** Data records so far (0 = the header). */
  private record = -1;
  /** Bytes of the sample's cells (sizes the table). */
  private sampleBytes = 0;

  constructor(
    private readonly file: string,
    private readonly fileSize: number,
    private readonly o: LoadOptions,
  ) {}

  onRecord(record: string[]): void {
    const index = ++this.record;
    if (!this.header) this.setHeader(record);
    else if (this.table) this.ingest(record, index);
    else {
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
    this.table = new RawTable(
      columns,
      Math.ceil((this.fileSize / Math.max(1, this.sampleBytes)) * this.sample.length * 1.2) + 1024,
    );
    for (const { record, index } of this.sample) this.ingest(record, index);
    this.sample = [];
  }

  private ingest(record: string[], index: number): void {
    const table = this.table!;
    const offset = table.appendRow();
    const block = table.data;
    const last = this.source.length - 1;
    for (let j = 0; j <= last; j++) {
      const column = table.columns[j]!;
      const text = clean(record[this.source[j]!]!);
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
  }

  private noteTarget(v: number): void {
    if (!Number.isInteger(v)) this.target.integers = false;
    if (this.target.distinct.size <= MAX_CLASSES) this.target.distinct.add(v);
  }
}

async function readTable(file: string, o: LoadOptions): Promise<TableReader> {
  let size: number;
  try {
    const s = await stat(file);
    if (!s.isFile()) throw new DataError('not a file', { file });
    size = s.size;
  } catch (err) {
    if (err instanceof DataError) throw err;
    throw new DataError(`cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { file });
  }
  const reader = new TableReader(file, size, o);
  const delimiter = await sniffDelimiter(file);
  reader.delimiter = delimiter;
  const parser = parse({ delimiter, bom: true, skip_empty_lines: true });
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
  const input = createReadStream(file, { highWaterMark: 1 << 20 });
  let done = 0;
  input.on('data', (chunk) => {
    done += chunk.length;
    o.onProgress?.(done, size);
  });
  try {
    await pipeline(input, parser);
  } catch (err) {
    if (err instanceof DataError || err instanceof RowError) throw err;
    const csv = err as CsvError & { lines?: number };
    if (csv.code === 'CSV_RECORD_INCONSISTENT_FIELDS_LENGTH') {
      const got = /got (\d+)/.exec(csv.message)?.[1];
      const expected = /expect (\d+)/.exec(csv.message)?.[1];
      throw new DataError(
        `ragged row: ${got ?? 'a different number of'} fields, the header has ${expected ?? reader.header?.length ?? 'another number'}`,
        { file, ...(csv.lines ? { line: csv.lines } : {}) },
      );
    }
    throw new DataError(csv.message.replace(/ on line \d+$/, ''), { file, ...(csv.lines ? { line: csv.lines } : {}) });
  }
  if (!reader.header) throw new DataError('empty file (no header row)', { file });
  reader.decideKinds();
  if (!reader.table || reader.table.rows === 0) throw new DataError('no data rows below the header', { file });
  return reader;
}

interface TargetPlan {
  task: Task;
  reason: string;
  labels: string[];
  /** Class index of each row (classification). */
  classes?: Int32Array;
}

function planTarget(reader: TableReader, file: string, o: LoadOptions): TargetPlan {
  const table = reader.table!;
  const col = table.width - 1;
  const column = table.columns[col]!;
  const where = { file, column: column.name };
  if (column.kind === 'category') {
    if (o.task === 'regression') {
      const first = reader.target.firstText!;
      throw new RowError(
        first.record,
        `task regression needs a numeric target, but it holds text such as ${JSON.stringify(first.value)}`,
        column.name,
      );
    }
    return classify(table, col, column, o.task ? 'given' : 'inferred: text values', where);
  }
  const { integers, distinct } = reader.target;
  let task: Task;
  let reason: string;
  if (o.task) {
    task = o.task;
    reason = 'given';
  } else if (integers && distinct.size <= MAX_INFERRED_CLASSES) {
    task = 'classification';
    reason = `inferred: ${distinct.size} distinct integer values`;
  } else {
    task = 'regression';
    const count = distinct.size > MAX_CLASSES ? `over ${MAX_CLASSES}` : String(distinct.size);
    reason = `inferred: ${integers ? `${count} distinct integer values` : 'non-integer numbers'}`;
  }
  if (task === 'regression') return { task, reason, labels: [] };
  if (distinct.size > MAX_CLASSES) {
    throw new DataError(
      `more than ${MAX_CLASSES} distinct target values are too many classes; use task regression`,
      where,
    );
  }
  const values = [...distinct].sort((a, b) => a - b);
  const index = new Map(values.map((v, i) => [v, i] as const));
  const classes = new Int32Array(table.rows);
  for (let i = 0; i < table.rows; i++) classes[i] = index.get(table.get(i, col))!;
  return checkClasses({ task, reason, labels: values.map(String), classes }, where);
}

function classify(
  table: RawTable,
  col: number,
  column: CategoryColumn,
  reason: string,
  where: { file: string; column: string },
): TargetPlan {
  const labels = [...column.vocabulary].sort();
  const rank = new Int32Array(labels.length);
  column.vocabulary.forEach((text, code) => {
    rank[code] = labels.indexOf(text);
  });
  const classes = new Int32Array(table.rows);
  for (let i = 0; i < table.rows; i++) classes[i] = rank[table.get(i, col)]!;
  return checkClasses({ task: 'classification', reason, labels, classes }, where);
}

function checkClasses(plan: TargetPlan, where: { file: string; column: string }): TargetPlan {
  if (plan.labels.length < 2) {
    throw new DataError(
      `the target has one class (${JSON.stringify(plan.labels[0])}); classification needs at least two`,
      where,
    );
  }
  return plan;
}

function partition(name: string, total: number, plan: TargetPlan, o: LoadOptions): Partition {
  if (o.split) {
    checkRecord(o.split, name, total);
    const val = recordedRows(o.split.val, total, 'validation');
    const test = recordedRows(o.split.test, total, 'test');
    const train = complement(total, val, test);
    if (train.length + val.length + test.length !== total) {
      throw new DataError('split record: the validation and test splits overlap');
    }
    return { train, val, test };
  }
  return drawPartition({
    name,
    total,
    ...(plan.classes ? { classes: plan.classes } : {}),
    valSplit: o.valSplit ?? DEFAULT_VAL_SPLIT,
    testSplit: o.testSplit ?? DEFAULT_TEST_SPLIT,
    seed: o.seed ?? DEFAULT_SEED,
  });
}

/** Refuses text columns with so many distinct values that they are identifiers or free text. */
function checkCardinality(features: Column[], categories: Map<string, number>, trainRows: number, file: string): void {
  for (const f of features) {
    const k = categories.get(f.name);
    if (k !== undefined && (k > MAX_CLASSES || (k > 50 && k > trainRows / 2))) {
      throw new DataError(
        `${k} distinct text values in ${trainRows} training rows: an identifier or free text, not a category (leave it out with --features)`,
        { file, column: f.name },
      );
    }
  }
}

/** Loads a CSV/TSV file; every problem is a DataError naming the file, line and column. */
export async function loadCsv(path: string, o: LoadOptions = {}): Promise<Dataset> {
  try {
    return await load(path, o);
  } catch (err) {
    if (!(err instanceof RowError)) throw err;
    const line = await lineOfRecord(path, await sniffDelimiter(path), err.record);
    throw new DataError(err.problem, {
      file: path,
      ...(line ? { line } : {}),
      ...(err.column ? { column: err.column } : {}),
    });
  }
}

async function load(path: string, o: LoadOptions): Promise<Dataset> {
  const file = path;
  const name = basename(path, extname(path));
  const reader = await readTable(file, o);
  const table = reader.table!;
  const n = table.rows;
  const plan = planTarget(reader, file, o);
  const part = partition(name, n, plan, o);
  const featureCols = reader.featureNames.map((_, j) => j);
  const { schema, notes } = fitTabular(table, featureCols, part.train, [part.val, part.test], {
    ...(o.impute ? { impute: o.impute } : {}),
    file,
  });
  checkCardinality(
    table.columns.slice(0, -1),
    new Map(schema.features.flatMap((f) => (f.type === 'category' ? [[f.name, f.categories.length] as const] : []))),
    part.train.length,
    file,
  );

  // Rows are laid out train | val | test so each split is one contiguous view of the matrix.
  const destination = new Int32Array(n);
  let next = 0;
  for (const rows of [part.train, part.val, part.test]) for (const i of rows) destination[i] = next++;
  const y = new Float32Array(n);
  const targetCol = table.width - 1;
  let targetMean = 0;
  let targetStd = 1;
  if (plan.classes) {
    for (let i = 0; i < n; i++) y[destination[i]!] = plan.classes[i]!;
  } else {
    let mean = 0;
    let m2 = 0;
    part.train.forEach((row, k) => {
      const v = table.get(row, targetCol);
      const d = v - mean;
      mean += d / (k + 1);
      m2 += d * (v - mean);
    });
    const std = Math.sqrt(m2 / part.train.length);
    if (!(std > 0))
      throw new DataError('the target is constant in the training split; nothing to learn', {
        file,
        column: reader.targetName,
      });
    targetMean = mean;
    targetStd = std;
    for (let i = 0; i < n; i++) y[destination[i]!] = (table.get(i, targetCol) - mean) / std;
  }
  const x = encodeTable(table, featureCols, schema, destination);
  const width = x.length / n;

  const view = (start: number, count: number): Split => ({
    x: x.subarray(start * width, (start + count) * width),
    y: y.subarray(start, start + count),
    count,
  });
  const train = view(0, part.train.length);
  const val = view(part.train.length, part.val.length);
  const test = view(part.train.length + part.val.length, part.test.length);

  const split: SplitRecord = {
    version: 1,
    dataset: name,
    total: n,
    seed: o.split?.seed ?? o.seed ?? DEFAULT_SEED,
    valSplit: o.split?.valSplit ?? o.valSplit ?? DEFAULT_VAL_SPLIT,
    testSplit: o.split?.testSplit ?? o.testSplit ?? DEFAULT_TEST_SPLIT,
    stratified: o.split ? o.split.stratified : plan.task === 'classification',
    source: { val: 'random', test: 'random' },
    val: { rows: Array.from(part.val) },
    test: { rows: Array.from(part.test) },
  };

  const numeric = schema.features.filter((f) => f.type === 'number').length;
  const categorical = schema.features.length - numeric;
  const kinds = [`${numeric} numeric`, ...(categorical > 0 ? [`${categorical} categorical`] : [])].join(' + ');
  const taskText = plan.task === 'classification' ? `classification over ${plan.labels.length} classes` : 'regression';
  const how = o.split ? 'recorded split' : `${split.stratified ? 'stratified, ' : ''}seed ${split.seed}`;
  const extra = [...(o.impute ? [`missing values imputed (${o.impute})`] : []), ...notes];
  return {
    name,
    task: plan.task,
    input: schema,
    output:
      plan.task === 'classification'
        ? { task: 'classification', labels: plan.labels }
        : { task: 'regression', target: reader.targetName, mean: targetMean, std: targetStd },
    inputShape: [width],
    train,
    val,
    test,
    trainFull: () => ({
      x: x.slice(0, (train.count + val.count) * width),
      y: y.slice(0, train.count + val.count),
      count: train.count + val.count,
    }),
    split,
    summary:
      `${basename(path)}: ${n} rows, ${kinds} features (${width} inputs), ${taskText} ` +
      `(target '${reader.targetName}', ${plan.reason}); split ${train.count}/${val.count}/${test.count} train/val/test (${how})` +
      (extra.length > 0 ? `; ${extra.join('; ')}` : ''),
  };
}

export const csvLoader: DataLoader = {
  name: 'csv',
  async accepts(path) {
    if (!/\.(csv|tsv|tab)$/i.test(path)) return false;
    try {
      return (await stat(path)).isFile();
    } catch {
      // A missing .csv is still this loader's: it reports the missing file.
      return true;
    }
  },
  load: loadCsv,
};
