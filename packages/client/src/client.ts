import { AuthError, ClientError, HttpError, ResponseFormatError, TimeoutError, UnreachableError } from './errors.js';
import type {
  Classification,
  LabelledAnswer,
  ModelList,
  ModelStatus,
  RepositoryEntry,
  Sample,
  ServedModel,
  StudyJson,
  V2InferRequest,
  V2InferResponse,
} from './types.js';

/** Options of the labelled predictions (`/api/models/{name}/predict`). */
export interface LabelledOptions {
  /** Classes per answer, best first (server default 5). */
  topK?: number;
  version?: number;
}

/** A request body that is not JSON: an image file's bytes. */
interface RawBody {
  bytes: Uint8Array | Blob;
  contentType: string;
}

export interface ClientOptions {
  /** Server root, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <key>` when set. */
  apiKey?: string | undefined;
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number;
  /** Injected fetch (defaults to the global one, in browsers and Node alike). */
  fetch?: typeof fetch;
}

export interface Timed<T> {
  value: T;
  /** Wall time of the HTTP round trip, in milliseconds. */
  latencyMs: number;
}

/** A typed client for tuneserve: TF Serving REST, the reference /predict, samples, model and study. */
export class TuneserveClient {
  readonly baseUrl: string;
  apiKey: string | undefined;
  readonly timeoutMs: number;
  private readonly fetchImpl: typeof fetch;

  constructor(options: ClientOptions) {
    let url: URL;
    try {
      url = new URL(options.baseUrl);
    } catch {
      throw new ClientError(`not a valid server URL: ${JSON.stringify(options.baseUrl)}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new ClientError(`the server URL must start with http:// or https://, got ${options.baseUrl}`);
    }
    this.baseUrl = url.href.replace(/\/+$/, '');
    this.apiKey = options.apiKey || undefined;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.fetchImpl = options.fetch ?? ((...args) => globalThis.fetch(...args));
  }

  /** TF Serving `POST /v1/models/{name}[/versions/{v}]:predict` with row-format `instances`. */
  async predict(model: string, instances: ArrayLike<number>[], version?: number): Promise<Timed<number[][]>> {
    const path = `/v1/models/${encodeURIComponent(model)}${version === undefined ? '' : `/versions/${version}`}:predict`;
    const body = { instances: instances.map((row) => Array.from(row)) };
    const { value, latencyMs } = await this.timedJson<{ predictions?: unknown }>('POST', path, body);
    const predictions = value.predictions;
    if (!Array.isArray(predictions) || !predictions.every(isNumberArray)) {
      throw new ResponseFormatError(`${path}: expected {"predictions": number[][]}`);
    }
    return { value: predictions, latencyMs };
  }

  /** Predicts one input and reads the answer as a classification (arg-max label, its probability). */
  async classify(model: string, instance: ArrayLike<number>, version?: number): Promise<Timed<Classification>> {
    const { value, latencyMs } = await this.predict(model, [instance], version);
    const probabilities = value[0];
    if (!probabilities || probabilities.length === 0)
      throw new ResponseFormatError('the server returned no prediction');
    return { value: toClassification(probabilities), latencyMs };
  }

  /** TF Serving `GET /v1/models/{name}`: version states. */
  async modelStatus(model: string): Promise<ModelStatus> {
    return (await this.timedJson<ModelStatus>('GET', `/v1/models/${encodeURIComponent(model)}`)).value;
  }

  /** TF Serving `GET /v1/models/{name}/metadata`: the signature, as the server describes it. */
  async modelMetadata(model: string): Promise<Record<string, unknown>> {
    const path = `/v1/models/${encodeURIComponent(model)}/metadata`;
    return (await this.timedJson<Record<string, unknown>>('GET', path)).value;
  }

  /** The reference server's `POST /predict`: answers with the sentence `This number is a N`. */
  async referencePredict(instance: ArrayLike<number>): Promise<Timed<string>> {
    const started = now();
    const response = await this.send('POST', '/predict', { instances: Array.from(instance) });
    const text = (await response.text()).trim();
    return { value: text, latencyMs: now() - started };
  }

  /** `GET /api/models`: every served model with its readiness and input/output schema. */
  async models(): Promise<ModelList> {
    const { value } = await this.timedJson<ModelList>('GET', '/api/models');
    if (!value || !Array.isArray(value.models))
      throw new ResponseFormatError('/api/models: expected {"models": [...]}');
    return value;
  }

  /** Named features (one record per example) → class names with scores, or regression values. */
  async predictFeatures(
    model: string,
    rows: Record<string, number | string | null>[],
    options: LabelledOptions = {},
  ): Promise<Timed<LabelledAnswer>> {
    return this.labelled(model, { instances: rows, ...(options.topK ? { top_k: options.topK } : {}) }, options);
  }

  /** One image file (PNG, JPEG or WebP bytes), sent as the raw body → its classes, best first. */
  async predictImage(
    model: string,
    bytes: Uint8Array | Blob,
    options: LabelledOptions & { contentType?: string } = {},
  ): Promise<Timed<LabelledAnswer>> {
    const contentType =
      options.contentType ?? (bytes instanceof Blob && bytes.type ? bytes.type : sniffImageType(bytes));
    return this.labelled(model, { bytes, contentType }, options);
  }

  /** Several image files in one request (TF Serving's `{"b64": ...}` instances). */
  async predictImages(
    model: string,
    images: Uint8Array[],
    options: LabelledOptions = {},
  ): Promise<Timed<LabelledAnswer>> {
    const instances = images.map((bytes) => ({ b64: toBase64(bytes) }));
    return this.labelled(model, { instances, ...(options.topK ? { top_k: options.topK } : {}) }, options);
  }

  private async labelled(model: string, body: unknown, options: LabelledOptions): Promise<Timed<LabelledAnswer>> {
    const query = new URLSearchParams();
    if (options.topK !== undefined) query.set('top_k', String(options.topK));
    if (options.version !== undefined) query.set('version', String(options.version));
    const path = `/api/models/${encodeURIComponent(model)}/predict${query.size > 0 ? `?${query}` : ''}`;
    const { value, latencyMs } = await this.timedJson<LabelledAnswer>('POST', path, body);
    if (!value || !Array.isArray(value.predictions))
      throw new ResponseFormatError(`${path}: expected {"predictions": [...]}`);
    return { value, latencyMs };
  }

  /** KServe v2 `POST /v2/models/{name}[/versions/{v}]/infer`. */
  async infer(model: string, request: V2InferRequest, version?: number): Promise<Timed<V2InferResponse>> {
    const path = `/v2/models/${encodeURIComponent(model)}${version === undefined ? '' : `/versions/${version}`}/infer`;
    const result = await this.timedJson<V2InferResponse>('POST', path, request);
    if (!result.value || !Array.isArray(result.value.outputs))
      throw new ResponseFormatError(`${path}: expected {"outputs": [...]}`);
    return result;
  }

  /** KServe v2 `GET /v2/models/{name}`: inputs and outputs with datatypes and shapes. */
  async v2Metadata(model: string): Promise<Record<string, unknown>> {
    return (await this.timedJson<Record<string, unknown>>('GET', `/v2/models/${encodeURIComponent(model)}`)).value;
  }

  /** KServe v2 repository extension `POST /v2/repository/index`. */
  async repositoryIndex(onlyReady = false): Promise<RepositoryEntry[]> {
    return (await this.timedJson<RepositoryEntry[]>('POST', '/v2/repository/index', onlyReady ? { ready: true } : {}))
      .value;
  }

  /** `GET /api/model`: the served model's name, versions and metadata. */
  async servedModel(): Promise<ServedModel> {
    return (await this.timedJson<ServedModel>('GET', '/api/model')).value;
  }

  /**
   * A random test example with its true answer: of the data `model` was trained on
   * (`GET /api/models/{model}/samples/random`), or the server's (`GET /api/samples/random`).
   */
  async randomSample(model?: string): Promise<Sample> {
    return checkSample((await this.timedJson<Sample>('GET', `${samplesPath(model)}/random`)).value);
  }

  /** The test example at `index` (`GET /api/models/{model}/samples/{index}`, or `GET /api/samples/{index}`). */
  async sample(index: number, model?: string): Promise<Sample> {
    if (!Number.isInteger(index) || index < 0)
      throw new ClientError(`sample index must be an integer >= 0, got ${index}`);
    return checkSample((await this.timedJson<Sample>('GET', `${samplesPath(model)}/${index}`)).value);
  }

  /** `GET /api/models/{name}`: one model's name, versions and metadata. */
  async model(name: string): Promise<ServedModel> {
    return (await this.timedJson<ServedModel>('GET', `/api/models/${encodeURIComponent(name)}`)).value;
  }

  /** `GET /api/models/{model}/study`: the study the model was tuned in; without a model, `GET /api/study`. */
  async study(model?: string): Promise<StudyJson> {
    return (await this.timedJson<StudyJson>('GET', studyPath(model))).value;
  }

  /**
   * Follows the study's server-sent events (`…/study/events`, of `model` when given) and calls `onStudy` for each
   * `study` event until `signal` aborts or the stream ends. Uses fetch rather than EventSource so the API key
   * header can be sent.
   */
  async watchStudy(onStudy: (study: StudyJson) => void, signal: AbortSignal, model?: string): Promise<void> {
    const url = this.url(`${studyPath(model)}/events`);
    let response: Response;
    try {
      response = await this.fetchImpl(url, { headers: this.headers({ accept: 'text/event-stream' }), signal });
    } catch (err) {
      if (signal.aborted) return;
      throw new UnreachableError(this.baseUrl, err);
    }
    if (!response.ok) throw await httpError(response, url);
    if (!response.body) throw new ResponseFormatError(`${url}: no event stream`);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value.replace(/\r\n/g, '\n');
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const event = parseSseEvent(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          if (event.type === 'study' && event.data) onStudy(JSON.parse(event.data) as StudyJson);
          end = buffer.indexOf('\n\n');
        }
      }
    } catch (err) {
      if (signal.aborted) return;
      throw err instanceof ClientError ? err : new UnreachableError(this.baseUrl, err);
    } finally {
      reader.releaseLock();
    }
  }

  private url(path: string): string {
    return this.baseUrl + path;
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.apiKey ? { ...extra, authorization: `Bearer ${this.apiKey}` } : extra;
  }

  private async timedJson<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Timed<T>> {
    const started = now();
    const response = await this.send(method, path, body);
    let value: T;
    try {
      value = (await response.json()) as T;
    } catch {
      throw new ResponseFormatError(`${this.url(path)}: the answer is not JSON`);
    }
    return { value, latencyMs: now() - started };
  }

  /** One request with timeout; non-2xx answers become typed errors. */
  private async send(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Response> {
    const url = this.url(path);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    try {
      const raw = isRawBody(body) ? body : undefined;
      const contentType = raw ? raw.contentType : body === undefined ? undefined : 'application/json';
      const init: RequestInit = {
        method,
        headers: this.headers(contentType ? { 'content-type': contentType } : {}),
        signal: controller.signal,
      };
      if (raw) init.body = raw.bytes as BodyInit;
      else if (body !== undefined) init.body = JSON.stringify(body);
      let response: Response;
      try {
        response = await this.fetchImpl(url, init);
      } catch (err) {
        if (controller.signal.aborted) throw new TimeoutError(url, this.timeoutMs);
        throw new UnreachableError(this.baseUrl, err);
      }
      if (!response.ok) throw await httpError(response, url);
      // Read the body inside the timeout too: buffer it now.
      const buffered = await response.arrayBuffer().catch((err: unknown) => {
        if (controller.signal.aborted) throw new TimeoutError(url, this.timeoutMs);
        throw new UnreachableError(this.baseUrl, err);
      });
      const empty = response.status === 204 || response.status === 205;
      return new Response(empty ? null : buffered, { status: response.status, headers: response.headers });
    } finally {
      clearTimeout(timer);
    }
  }
}

function isRawBody(body: unknown): body is RawBody {
  return typeof body === 'object' && body !== null && 'bytes' in body && 'contentType' in body;
}

/** The image type from the file's first bytes (the server checks them again). */
function sniffImageType(bytes: Uint8Array | Blob): string {
  if (bytes instanceof Blob) return 'application/octet-stream';
  if (bytes[0] === 0x89 && bytes[1] === 0x50) return 'image/png';
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return 'image/jpeg';
  if (bytes[8] === 0x57 && bytes[9] === 0x45 && bytes[10] === 0x42 && bytes[11] === 0x50) return 'image/webp';
  return 'application/octet-stream';
}

/** Base64 in browsers and Node alike (no Buffer). */
function toBase64(bytes: Uint8Array): string {
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

/** Arg-max over a probability vector. */
export function toClassification(probabilities: number[]): Classification {
  let label = 0;
  for (let i = 1; i < probabilities.length; i++) if (probabilities[i]! > probabilities[label]!) label = i;
  return { label, confidence: probabilities[label]!, probabilities };
}

async function httpError(response: Response, url: string): Promise<HttpError> {
  const text = await response.text().catch(() => '');
  let message = text.trim() || response.statusText || 'no message';
  try {
    const parsed = JSON.parse(text) as { error?: unknown; message?: unknown };
    if (typeof parsed.error === 'string') message = parsed.error;
    else if (typeof parsed.message === 'string') message = parsed.message;
  } catch {
    // Not JSON: keep the text.
  }
  if (message.length > 300) message = `${message.slice(0, 300)}…`;
  const Kind = response.status === 401 || response.status === 403 ? AuthError : HttpError;
  return new Kind(response.status, url, message);
}

function parseSseEvent(block: string): { type: string; data: string } {
  let type = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') type = value;
    else if (field === 'data') data.push(value);
  }
  return { type, data: data.join('\n') };
}

const samplesPath = (model?: string): string =>
  model === undefined ? '/api/samples' : `/api/models/${encodeURIComponent(model)}/samples`;

const studyPath = (model?: string): string =>
  model === undefined ? '/api/study' : `/api/models/${encodeURIComponent(model)}/study`;

function checkSample(sample: Sample): Sample {
  if (
    !sample ||
    !Number.isInteger(sample.index) ||
    !Number.isInteger(sample.label) ||
    !isNumberArray(sample.instances)
  ) {
    throw new ResponseFormatError('expected a sample {index, label, instances}');
  }
  return sample;
}

function isNumberArray(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'number');
}

function now(): number {
  return performance.now();
}
