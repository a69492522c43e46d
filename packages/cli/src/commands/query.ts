/**
 * `tuneserve query`: the reference's end-user program. Sends a random/indexed MNIST test digit or
 * a picture file to a running server over TF Serving REST and prints the reference's sentence,
 * the true label, confidence, latency and the 28x28 input drawn in the terminal. With --count N it
 * measures accuracy and latency percentiles over N random test digits.
 */
import { access } from 'node:fs/promises';
import {
  AuthError,
  type Classification,
  ClientError,
  EmptyImageError,
  greyToInk,
  HttpError,
  type ModelList,
  type ModelSummary,
  renderDigit,
  type Sample,
  TimeoutError,
  TuneserveClient,
  toMnistInput,
  UnreachableError,
} from '@tuneserve/client';
import cliProgress from 'cli-progress';
import { type Command, Option } from 'commander';
import type { OutputInfo } from 'sharp';
import { integer } from '../adapters/flags.js';
import { UsageError } from '../errors.js';
import { runLabelledQuery } from './query-labelled.js';

interface QueryOptions {
  url: string;
  apiKey?: string;
  model?: string;
  random?: boolean;
  index?: number;
  image?: string;
  features?: string;
  csv?: string;
  out?: string;
  topK?: number;
  count?: number;
  format: 'text' | 'json';
  timeout: number;
  picture: boolean;
}

interface Digit {
  input: ArrayLike<number>;
  label?: number;
  index?: number;
  source: string;
}

const DEFAULT_URL = 'http://127.0.0.1:8080';

export function registerQuery(program: Command): void {
  program
    .command('query')
    .description(
      'Ask a running server: what digit an image shows (a random or chosen MNIST test digit, or a picture), or any model about a photo, a row of named features or a CSV of rows',
    )
    .addOption(new Option('--url <url>', 'server address').env('TUNESERVE_URL').default(DEFAULT_URL))
    .addOption(new Option('--api-key <key>', 'API key, when the server requires one').env('TUNESERVE_API_KEY'))
    .option('--model <name>', 'model name (default: the one the server serves)')
    .option('--random', 'a random MNIST test digit from the server (the default)')
    .option('--index <n>', 'the MNIST test digit at this index', integer('--index', 0))
    .option('--image <file>', 'a PNG/JPEG/WebP picture: a digit for MNIST, any photo for an image model')
    .option('--features <json>', 'one row of named features, e.g. \'{"alcohol": 13.2, "colour": "red"}\'')
    .option('--csv <file>', 'rows of named features (header = feature names): writes a CSV of predictions')
    .option('--out <file>', 'where --csv writes its predictions (default: standard output)')
    .option('--top-k <n>', 'classes per answer, best first', integer('--top-k', 1))
    .option('--count <n>', 'send N random test digits; print accuracy and latency percentiles', integer('--count', 1))
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .option('--timeout <ms>', 'per-request timeout in milliseconds', integer('--timeout', 1), 10_000)
    .option('--no-picture', 'do not draw the digit in the terminal')
    .action(async (options: QueryOptions) => {
      await runQuery(options, process.stdout, process.stderr);
    });
}

export async function runQuery(options: QueryOptions, out: NodeJS.WriteStream, err: NodeJS.WriteStream): Promise<void> {
  const modes = [
    options.random,
    options.index !== undefined,
    options.image !== undefined,
    options.features !== undefined,
    options.csv !== undefined,
  ].filter(Boolean).length;
  if (modes > 1) throw new UsageError('choose one of --random, --index, --image, --features and --csv');
  if (options.out !== undefined && options.csv === undefined) throw new UsageError('--out is for --csv');
  if (options.count !== undefined && (options.index !== undefined || options.image !== undefined)) {
    throw new UsageError('--count sends random test digits: it cannot be combined with --index or --image');
  }
  let client: TuneserveClient;
  try {
    client = new TuneserveClient({ baseUrl: options.url, apiKey: options.apiKey, timeoutMs: options.timeout });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  try {
    if (options.features !== undefined || options.csv !== undefined || options.image !== undefined) {
      const model = await schemaModel(client, options.model);
      // Models with a schema answer with class names; plain MNIST models keep the digit path below.
      if (model && (options.image === undefined || model.input?.kind === 'image')) {
        await runLabelledQuery(client, model, options, out, err);
        return;
      }
      if (!model && options.image === undefined)
        throw new UsageError('this server does not list its models (GET /api/models): --features and --csv need it');
    }
    // Read the picture before talking to the server: a bad file is the user's first problem.
    const picture = options.image === undefined ? undefined : await readPicture(options.image);
    const model = options.model ?? (await servedModelName(client));
    if (options.count !== undefined) {
      await runBatch(client, model, options.count, options.format, out, err);
      return;
    }
    const digit =
      picture ??
      (options.index !== undefined
        ? fromSample(await client.sample(options.index, options.model))
        : fromSample(await client.randomSample(options.model)));
    const { value, latencyMs } = await client.classify(model, digit.input);
    printOne(out, digit, value, latencyMs, options);
  } catch (e) {
    throw toUsageError(e, options);
  }
}

/** The chosen (or default) model with its schema; undefined from servers without /api/models. */
async function schemaModel(client: TuneserveClient, name: string | undefined): Promise<ModelSummary | undefined> {
  let list: ModelList;
  try {
    list = await client.models();
  } catch (e) {
    if (e instanceof HttpError && e.status === 404) return undefined;
    throw e;
  }
  const chosen = name ?? list.default ?? undefined;
  const model = list.models.find((m) => m.name === chosen);
  if (!model) {
    const names = list.models.map((m) => m.name).join(', ') || 'none';
    throw new UsageError(
      chosen
        ? `the server has no model "${chosen}" (it serves: ${names})`
        : `choose a model with --model (the server serves: ${names})`,
    );
  }
  return model;
}

async function servedModelName(client: TuneserveClient): Promise<string> {
  try {
    return (await client.servedModel()).name;
  } catch (e) {
    // A server without the web API still speaks TF Serving: fall back to the default name.
    if (e instanceof HttpError && e.status === 404) return 'mnist';
    throw e;
  }
}

function fromSample(sample: Sample): Digit {
  return { input: sample.instances, label: sample.label, index: sample.index, source: `test digit #${sample.index}` };
}

/** Decodes any picture sharp reads, flattens transparency onto white, and preprocesses it like the web page. */
async function readPicture(file: string): Promise<Digit> {
  try {
    await access(file);
  } catch {
    throw new UsageError(`cannot read image ${file}: no such file`);
  }
  let decoded: { data: Buffer; info: OutputInfo };
  // Loaded only for --image: the native image library is the heaviest part of this command.
  const { default: sharp } = await import('sharp');
  try {
    decoded = await sharp(file)
      .flatten({ background: '#ffffff' })
      .greyscale()
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw new UsageError(`cannot read image ${file}: ${(e as Error).message}`);
  }
  const { data, info } = decoded;
  const grey = info.channels === 1 ? data : data.filter((_, i) => i % info.channels === 0);
  try {
    return { input: toMnistInput(greyToInk(grey, info.width, info.height)), source: file };
  } catch (e) {
    if (e instanceof EmptyImageError) throw new UsageError(`image ${file} is blank: no digit to recognise`);
    throw e;
  }
}

function printOne(
  out: NodeJS.WriteStream,
  digit: Digit,
  result: Classification,
  latencyMs: number,
  options: QueryOptions,
): void {
  if (options.format === 'json') {
    out.write(
      `${JSON.stringify({
        prediction: result.label,
        label: digit.label ?? null,
        correct: digit.label === undefined ? null : digit.label === result.label,
        confidence: result.confidence,
        probabilities: result.probabilities,
        latencyMs: round(latencyMs),
        index: digit.index ?? null,
        source: digit.source,
      })}\n`,
    );
    return;
  }
  const lines = [`This number is a ${result.label}`];
  if (digit.label !== undefined) {
    lines.push(`True label: ${digit.label} (${digit.label === result.label ? 'correct' : 'wrong'})`);
  }
  lines.push(`Confidence: ${(result.confidence * 100).toFixed(1)}%`);
  lines.push(`Latency:    ${latencyMs.toFixed(1)} ms`);
  lines.push(`Input:      ${digit.source}`);
  if (options.picture) lines.push('', renderDigit(digit.input, 28, { colour: useColour(out) }));
  out.write(`${lines.join('\n')}\n`);
}

function useColour(stream: NodeJS.WriteStream): boolean {
  return Boolean(stream.isTTY) && !process.env.NO_COLOR && (stream.getColorDepth?.() ?? 1) >= 8;
}

async function runBatch(
  client: TuneserveClient,
  model: string,
  count: number,
  format: 'text' | 'json',
  out: NodeJS.WriteStream,
  err: NodeJS.WriteStream,
): Promise<void> {
  const progress = createProgress(err, count);
  const latencies: number[] = [];
  let correct = 0;
  try {
    for (let i = 0; i < count; i++) {
      const sample = await client.randomSample(model);
      const { value, latencyMs } = await client.classify(model, sample.instances);
      latencies.push(latencyMs);
      if (value.label === sample.label) correct++;
      progress.tick(i + 1, correct);
    }
  } finally {
    progress.stop();
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  const summary = {
    count,
    correct,
    accuracy: correct / count,
    latencyMs: {
      mean: round(sorted.reduce((a, b) => a + b, 0) / count),
      p50: round(percentile(sorted, 50)),
      p90: round(percentile(sorted, 90)),
      p99: round(percentile(sorted, 99)),
      max: round(sorted[sorted.length - 1]!),
    },
  };
  if (format === 'json') {
    out.write(`${JSON.stringify(summary)}\n`);
    return;
  }
  const l = summary.latencyMs;
  out.write(
    `${count} random test digits: accuracy ${(summary.accuracy * 100).toFixed(1)}% (${correct}/${count})\n` +
      `Latency ms: mean ${l.mean}  p50 ${l.p50}  p90 ${l.p90}  p99 ${l.p99}  max ${l.max}\n`,
  );
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1]!;
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/** A bar with ETA on a TTY; otherwise about ten plain progress lines. */
function createProgress(
  stream: NodeJS.WriteStream,
  total: number,
): { tick(done: number, correct: number): void; stop(): void } {
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream,
        format: 'query |{bar}| {value}/{total} | accuracy {accuracy} | ETA {eta_formatted}',
        clearOnComplete: true,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { accuracy: '-' });
    return {
      tick: (done, correct) => bar.update(done, { accuracy: `${((correct / done) * 100).toFixed(1)}%` }),
      stop: () => bar.stop(),
    };
  }
  const step = Math.max(1, Math.ceil(total / 10));
  return {
    tick(done, correct) {
      if (total >= 20 && (done % step === 0 || done === total)) {
        stream.write(`query: ${done}/${total} sent, accuracy so far ${((correct / done) * 100).toFixed(1)}%\n`);
      }
    },
    stop() {},
  };
}

/** Every failure becomes one clear line and exit code 2. */
function toUsageError(e: unknown, options: QueryOptions): Error {
  if (e instanceof UsageError) return e;
  if (e instanceof AuthError) {
    return new UsageError(
      options.apiKey
        ? `the server refused the API key (HTTP ${e.status}): ${e.serverMessage}`
        : `the server requires an API key (HTTP ${e.status}): pass --api-key or set TUNESERVE_API_KEY`,
    );
  }
  if (e instanceof HttpError) {
    if (e.status === 404 && e.url.endsWith('/api/samples/random')) {
      return new UsageError(
        `the server has no test digits to send (HTTP 404): ${e.serverMessage}; use --image, or serve with a data set`,
      );
    }
    if (e.status === 404 && /\/api\/samples\//.test(e.url)) {
      return new UsageError(`no such test digit (HTTP 404): ${e.serverMessage}`);
    }
    return new UsageError(`the server rejected the request (HTTP ${e.status}): ${e.serverMessage}`);
  }
  if (e instanceof UnreachableError || e instanceof TimeoutError) {
    return new UsageError(`${e.message} (is \`tuneserve serve\` running? set --url)`);
  }
  if (e instanceof ClientError) return new UsageError(e.message);
  return e instanceof Error ? e : new Error(String(e));
}
