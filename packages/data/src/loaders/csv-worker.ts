/**
 * Worker thread of the CSV loader: reads one byte range of the file (from a record boundary to the
 * end) with the same TableReader as the main thread, writing rows into its region of the shared
 * buffer, and answers with its row count, category vocabularies and target statistics.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { DataError } from '../errors.js';
import { type Column, RawTable, TableFullError } from '../table.js';
import { parseFile, type RangeJob, type RangeResult, RowError, TableReader } from './csv-reader.js';

const job = workerData as RangeJob;
const post = (m: RangeResult | { progress: number }) => parentPort!.postMessage(m);

const columns: Column[] = job.columns.map((c) =>
  c.kind === 'number'
    ? { name: c.name, kind: 'number' }
    : { name: c.name, kind: 'category', vocabulary: [], codes: new Map() },
);
const table = new RawTable(columns, 0, new Float32Array(job.buffer, job.offset * 4, job.length));
const reader = new TableReader(job.file, 0, job.impute ? { impute: job.impute } : {});
reader.preset(job.fieldCount, job.source, table);
let quoted = false;
let reported = 0;
try {
  await parseFile(job.file, reader, {
    delimiter: job.delimiter,
    start: job.start,
    onChunk: (chunk) => {
      if (chunk.includes(0x22)) quoted = true;
    },
    onBytes: (bytes) => {
      if (bytes - reported >= 8 << 20) {
        reported = bytes;
        post({ progress: bytes });
      }
    },
  });
  post({
    ok: true,
    rows: table.rows,
    records: reader.record + 1,
    vocabularies: columns.map((c) => (c.kind === 'category' ? c.vocabulary : null)),
    integers: reader.target.integers,
    distinct: [...reader.target.distinct],
    ...(reader.target.firstText ? { firstText: reader.target.firstText } : {}),
    quoted,
  });
} catch (err) {
  if (err instanceof RowError)
    post({
      ok: false,
      kind: 'row',
      record: err.record,
      problem: err.problem,
      ...(err.column ? { column: err.column } : {}),
    });
  else if (err instanceof DataError) post({ ok: false, kind: 'data', message: err.message });
  else post({ ok: false, kind: err instanceof TableFullError ? 'full' : 'crash', message: (err as Error).message });
}
