/**
 * CSV / TSV tables with a header row. The file is streamed (by the byte reader when it has no quote
 * character, else by csv-parse) straight into a float32 RawTable (numbers as they are, text as category codes): no array of row objects, so a
 * million rows cost about their float32 size. Column kinds come from the first rows; the target
 * defaults to the last column and the task is inferred (text or a few distinct integers:
 * classification) unless given. Preprocessing is fitted on the training split only.
 */
import { existsSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, extname } from 'node:path';
import { Worker } from 'node:worker_threads';
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
import { type CategoryColumn, type Column, RawTable, TableFullError } from '../table.js';
import type { DataLoader, Dataset, LoadOptions, Split, SplitRecord, Task } from '../types.js';
import { NeedsCsvParse, readBytes } from './csv-bytes.js';
import {
  lineOfRecord,
  MAX_CLASSES,
  MAX_INFERRED_CLASSES,
  parseFile,
  type RangeDone,
  type RangeJob,
  type RangeResult,
  RowError,
  sniffDelimiter,
  TableReader,
} from './csv-reader.js';

/**
 * Reading on two threads is opt-in: bench:data found it slower than one thread on the shared 2-core machine, with
 * more memory (the worker's own heap); figures in docs/benchmarks.md. It should pay on idle cores.
 */
const PARALLEL_MIN_BYTES = Number.POSITIVE_INFINITY;

export interface CsvOptions extends LoadOptions {
  /** Smallest file read by two threads (the second half in a worker); default: never. */
  parallelMinBytes?: number;
  /** Read files without quote characters with the byte reader (default true); false: csv-parse only. */
  byteReader?: boolean;
}

/** The compiled worker next to this module, or (tests run the TypeScript sources) in the built package. */
function workerFile(): URL | undefined {
  for (const candidate of ['./csv-worker.js', '../../dist/loaders/csv-worker.js']) {
    const url = new URL(candidate, import.meta.url);
    if (existsSync(url)) return url;
  }
  return undefined;
}

async function fileSize(file: string): Promise<number> {
  try {
    const s = await stat(file);
    if (!s.isFile()) throw new DataError('not a file', { file });
    return s.size;
  } catch (err) {
    if (err instanceof DataError) throw err;
    throw new DataError(`cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { file });
  }
}

/**
 * Where the second thread starts: just after the first newline past the middle, when the file's
 * first megabyte has no quote character (a quoted field may hold newlines, and then only a reader
 * from the start knows where records begin). Undefined: read it on one thread.
 */
async function secondHalf(file: string, size: number): Promise<number | undefined> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(Math.min(size, 1 << 20));
    await handle.read(head, 0, head.length, 0);
    if (head.includes(0x22)) return undefined;
    const mid = Math.floor(size / 2);
    const probe = Buffer.alloc(Math.min(1 << 16, size - mid));
    const { bytesRead } = await handle.read(probe, 0, probe.length, mid);
    const nl = probe.subarray(0, bytesRead).indexOf(0x0a);
    return nl < 0 || mid + nl + 1 >= size ? undefined : mid + nl + 1;
  } finally {
    await handle.close();
  }
}

interface ReadResult {
  reader: TableReader;
  threads: number;
}

/** Reads the whole file on this thread: with the byte reader when it can, else (or after it gave up) csv-parse. */
async function readSequential(file: string, size: number, delimiter: string, o: CsvOptions): Promise<ReadResult> {
  const onBytes = (b: number) => o.onProgress?.(b, size);
  if (o.byteReader !== false) {
    const reader = new TableReader(file, size, o);
    try {
      await readBytes(file, reader, { delimiter, onBytes });
      return { reader, threads: 1 };
    } catch (err) {
      if (!(err instanceof NeedsCsvParse)) throw err;
    }
  }
  const reader = new TableReader(file, size, o);
  await parseFile(file, reader, { delimiter, onBytes });
  return { reader, threads: 1 };
}

/** A table region that could not hold its rows, or a quote seen after all: read again on one thread. */
class FallBack extends Error {}

/**
 * Reads the first half here and the second in a worker thread, both writing float32 rows into one
 * shared buffer (the worker's region after ours), then closes the gap and merges the worker's
 * category codes. csv-parse is the slow part of a load, so this is where a second core pays.
 */
async function readParallel(
  file: string,
  size: number,
  delimiter: string,
  boundary: number,
  url: URL,
  o: LoadOptions,
): Promise<ReadResult> {
  const reader = new TableReader(file, size, o);
  let quoted = false;
  let workerBytes = 0;
  let mainBytes = 0;
  let job: { worker: Worker; result: Promise<RangeResult>; buffer: SharedArrayBuffer; region: number } | undefined;
  reader.allocate = (columns, source, bytesPerRow) => {
    const width = columns.length;
    // Generous estimates: untouched pages of the shared buffer are never committed.
    const rowsA = Math.ceil((boundary / bytesPerRow) * 1.1) + 1024;
    const rowsB = Math.ceil(((size - boundary) / bytesPerRow) * 1.1) + 1024;
    const buffer = new SharedArrayBuffer((rowsA + rowsB) * width * 4);
    const data: RangeJob = {
      file,
      start: boundary,
      delimiter,
      fieldCount: reader.fieldCount,
      source,
      columns: columns.map((c) => ({ name: c.name, kind: c.kind })),
      ...(o.impute ? { impute: o.impute } : {}),
      buffer,
      offset: rowsA * width,
      length: rowsB * width,
    };
    // A small young generation: the worker's garbage is short-lived strings, and its heap counts against the load's memory.
    const worker = new Worker(url, { workerData: data, resourceLimits: { maxYoungGenerationSizeMb: 8 } });
    const result = new Promise<RangeResult>((resolve) => {
      worker.on('message', (m: RangeResult | { progress: number }) => {
        if ('progress' in m) {
          workerBytes = m.progress;
          o.onProgress?.(mainBytes + workerBytes, size);
        } else resolve(m);
      });
      worker.on('error', (err) => resolve({ ok: false, kind: 'crash', message: err.message }));
      worker.on('exit', () => resolve({ ok: false, kind: 'crash', message: 'worker exited' }));
    });
    job = { worker, result, buffer, region: rowsA * width };
    return new RawTable(columns, 0, new Float32Array(buffer, 0, rowsA * width));
  };
  try {
    await parseFile(file, reader, {
      delimiter,
      end: boundary - 1,
      onChunk: (chunk) => {
        if (chunk.includes(0x22)) quoted = true;
      },
      onBytes: (b) => {
        mainBytes = b;
        o.onProgress?.(mainBytes + workerBytes, size);
      },
    });
    reader.decideKinds();
    if (!job) throw new FallBack('no worker started');
    const result = await job.result;
    if (!result.ok) {
      if (result.kind === 'row') throw new RowError(reader.record + 1 + result.record, result.problem, result.column);
      if (result.kind === 'data') throw new DataError(result.message, { file });
      throw new FallBack(result.message);
    }
    if (quoted || result.quoted) throw new FallBack('quoted fields');
    merge(reader, result, job.buffer, job.region);
    return { reader, threads: 2 };
  } catch (err) {
    if (err instanceof FallBack || err instanceof TableFullError) return readSequential(file, size, delimiter, o);
    throw err;
  } finally {
    await job?.worker.terminate();
  }
}

/** Appends the worker's rows (at `region` in the shared buffer) to the reader's table. */
function merge(reader: TableReader, result: RangeDone, buffer: SharedArrayBuffer, region: number): void {
  const table = reader.table!;
  const w = table.width;
  const first = table.rows;
  const all = new Float32Array(buffer);
  all.copyWithin(first * w, region, region + result.rows * w);
  table.data = all;
  table.fixed = false;
  table.rows = first + result.rows;
  table.columns.forEach((column, j) => {
    const local = result.vocabularies[j];
    if (column.kind !== 'category' || !local) return;
    const code = local.map((text) => RawTable.code(column, text));
    for (let r = first; r < table.rows; r++) {
      const v = all[r * w + j]!;
      if (!Number.isNaN(v)) all[r * w + j] = code[v]!;
    }
  });
  const t = reader.target;
  t.integers &&= result.integers;
  for (const d of result.distinct) if (t.distinct.size <= MAX_CLASSES) t.distinct.add(d);
  if (!t.firstText && result.firstText) {
    t.firstText = { value: result.firstText.value, record: reader.record + 1 + result.firstText.record };
  }
  reader.record += result.records;
}

async function readTable(file: string, o: CsvOptions): Promise<ReadResult> {
  const size = await fileSize(file);
  const delimiter = await sniffDelimiter(file);
  const url = workerFile();
  const boundary =
    url && size >= (o.parallelMinBytes ?? PARALLEL_MIN_BYTES) && availableParallelism() >= 2
      ? await secondHalf(file, size)
      : undefined;
  const read =
    boundary !== undefined && url
      ? await readParallel(file, size, delimiter, boundary, url, o)
      : await readSequential(file, size, delimiter, o);
  const { reader } = read;
  if (!reader.header) throw new DataError('empty file (no header row)', { file });
  reader.decideKinds();
  if (!reader.table || reader.table.rows === 0) throw new DataError('no data rows below the header', { file });
  return read;
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
export async function loadCsv(path: string, o: CsvOptions = {}): Promise<Dataset> {
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

async function load(path: string, o: CsvOptions): Promise<Dataset> {
  const file = path;
  const name = basename(path, extname(path));
  const { reader, threads } = await readTable(file, o);
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
  const x = encodeTable(table, featureCols, schema, destination, part.train.length);
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
  const extra = [
    ...(o.impute ? [`missing values imputed (${o.impute})`] : []),
    ...notes,
    ...(threads > 1 ? [`read on ${threads} threads`] : []),
  ];
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
