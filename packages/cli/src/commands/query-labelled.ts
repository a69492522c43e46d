/**
 * `tuneserve query` for models with a schema: a photo (`--image`), one row of named features
 * (`--features '{"alcohol": 13.2}'`) or a CSV of rows (`--csv rows.csv`, answered in batches and
 * written back as a CSV with the predictions). Answers are class names with scores (`--top-k`) or
 * regression values, as text or JSON.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  HttpError,
  type LabelledAnswer,
  type ModelSummary,
  type TabularInput,
  type TuneserveClient,
} from '@tuneserve/client';
import { parse } from 'csv-parse';
import { stringify } from 'csv-stringify';
import { UsageError } from '../errors.js';

export interface LabelledQuery {
  image?: string | undefined;
  features?: string | undefined;
  csv?: string | undefined;
  /** Where --csv writes its predictions (default stdout). */
  out?: string | undefined;
  topK?: number | undefined;
  format: 'text' | 'json';
}

/** Rows sent per request in --csv mode. */
const CSV_BATCH = 256;

function parseFeatures(text: string): Record<string, number | string | null>[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--features is not valid JSON: ${(e as Error).message}`);
  }
  const rows = Array.isArray(doc) ? doc : [doc];
  if (rows.length === 0 || !rows.every((r) => typeof r === 'object' && r !== null && !Array.isArray(r)))
    throw new UsageError(
      '--features must be a JSON object of named values, e.g. \'{"alcohol": 13.2, "colour": "red"}\'',
    );
  return rows as Record<string, number | string | null>[];
}

/** A CSV cell as the model's feature wants it: numbers for numeric features, text for categories, empty → missing. */
function cell(value: string, numeric: boolean): number | string | null {
  if (value.trim() === '') return null;
  if (!numeric) return value;
  const n = Number(value);
  return Number.isFinite(n) ? n : value; // a non-number reaches the server, which names the field
}

function printAnswer(
  out: NodeJS.WritableStream,
  answer: LabelledAnswer,
  latencyMs: number,
  q: LabelledQuery,
  target?: string,
): void {
  if (q.format === 'json') {
    out.write(`${JSON.stringify({ ...answer, latencyMs: Math.round(latencyMs * 100) / 100 })}\n`);
    return;
  }
  const lines: string[] = [];
  for (const p of answer.predictions) {
    if ('value' in p) {
      lines.push(`${target ?? 'value'}: ${p.value}`);
      continue;
    }
    lines.push(`${p.label}  ${(p.score * 100).toFixed(1)}%`);
    const width = Math.max(...p.top_k.map((t) => t.label.length));
    for (const t of p.top_k) {
      const bar = '█'.repeat(Math.round(t.score * 30));
      lines.push(`  ${t.label.padEnd(width)}  ${bar} ${(t.score * 100).toFixed(1)}%`);
    }
  }
  lines.push(`Model:   ${answer.model} version ${answer.version}`, `Latency: ${latencyMs.toFixed(1)} ms`);
  out.write(`${lines.join('\n')}\n`);
}

/** Turns a 400 about `instance i` of a CSV batch into the file's line. */
function csvLineError(e: unknown, file: string, firstLine: number[]): unknown {
  if (!(e instanceof HttpError) || e.status !== 400) return e;
  const m = /^(?:instances|examples)\[(\d+)\]|^instance (\d+)/.exec(e.serverMessage);
  const index = Number(m?.[1] ?? m?.[2]);
  const line = firstLine[index];
  if (line === undefined) return e;
  return new UsageError(`${file}:${line}: ${e.serverMessage.replace(/^instance \d+: /, '')}`);
}

async function queryCsv(
  client: TuneserveClient,
  model: ModelSummary,
  q: LabelledQuery,
  err: NodeJS.WritableStream,
  out: NodeJS.WritableStream,
): Promise<void> {
  const file = q.csv as string;
  const input = model.input;
  if (input?.kind !== 'tabular')
    throw new UsageError(
      `--csv needs a model of named features; ${model.name} takes ${input?.kind ?? 'unknown'} input`,
    );
  const numeric = new Set((input as TabularInput).features.filter((f) => f.type === 'number').map((f) => f.name));
  const regression = model.output?.task === 'regression';
  const target = model.output?.task === 'regression' ? model.output.target : undefined;
  const source = createReadStream(file);
  const parser = source.pipe(parse({ columns: true, bom: true, skip_empty_lines: true, info: true }));
  source.on('error', (e) => parser.destroy(e)); // pipe() does not pass a read error on
  const sink = q.out
    ? createWriteStream(q.out)
    : new Writable({ write: (chunk, _enc, done) => void out.write(chunk, done) });
  const writer = stringify();
  const written = pipeline(writer, sink);
  let header: string[] | undefined;
  let batch: { record: Record<string, string>; line: number }[] = [];
  let done = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    const rows = batch.map(({ record }) => {
      const row: Record<string, number | string | null> = {};
      for (const [k, v] of Object.entries(record)) row[k] = cell(v, numeric.has(k));
      return row;
    });
    let answer: LabelledAnswer;
    try {
      answer = (await client.predictFeatures(model.name, rows, q.topK ? { topK: q.topK } : {})).value;
    } catch (e) {
      throw csvLineError(
        e,
        file,
        batch.map((b) => b.line),
      );
    }
    answer.predictions.forEach((p, i) => {
      const record = batch[i]?.record ?? {};
      const extra =
        'value' in p ? [p.value] : [p.label, p.score, p.top_k.map((t) => `${t.label}:${t.score.toFixed(4)}`).join(' ')];
      writer.write([...(header ?? []).map((h) => record[h] ?? ''), ...extra]);
    });
    done += batch.length;
    err.write(`query: ${done} rows answered\n`);
    batch = [];
  };
  try {
    for await (const { record, info } of parser as AsyncIterable<{
      record: Record<string, string>;
      info: { lines: number };
    }>) {
      if (!header) {
        header = Object.keys(record);
        writer.write([...header, ...(regression ? [target ?? 'value'] : ['prediction', 'score', 'top_k'])]);
      }
      batch.push({ record, line: info.lines });
      if (batch.length >= CSV_BATCH) await flush();
    }
    await flush();
  } catch (e) {
    written.catch(() => {}); // the sink is torn down with the writer; the cause is `e`
    writer.destroy();
    const code = (e as { code?: string }).code;
    if (code === 'ENOENT') throw new UsageError(`cannot read ${file}: no such file`);
    if (typeof code === 'string' && code.startsWith('CSV_')) throw new UsageError(`${file}: ${(e as Error).message}`);
    throw e;
  }
  if (!header) throw new UsageError(`${file} holds no rows`);
  writer.end();
  await written;
}

/** Runs one labelled query against `model`. */
export async function runLabelledQuery(
  client: TuneserveClient,
  model: ModelSummary,
  q: LabelledQuery,
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): Promise<void> {
  const target = model.output?.task === 'regression' ? model.output.target : undefined;
  const options = q.topK ? { topK: q.topK } : {};
  if (q.csv !== undefined) return queryCsv(client, model, q, err, out);
  if (q.features !== undefined) {
    const rows = parseFeatures(q.features);
    const { value, latencyMs } = await client.predictFeatures(model.name, rows, options);
    printAnswer(out, value, latencyMs, q, target);
    return;
  }
  const file = q.image as string;
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    throw new UsageError(
      `cannot read image ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`,
    );
  }
  const { value, latencyMs } = await client.predictImage(model.name, new Uint8Array(bytes), options);
  printAnswer(out, value, latencyMs, q, target);
}
