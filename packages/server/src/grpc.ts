/**
 * KServe v2 (Open Inference Protocol) over gRPC: GRPCInferenceService on its own port, beside the
 * HTTP server, answering from the same models with the same parsing, limits and deadlines. Auth is
 * decided per method from one table, deny by default: a method missing from the table needs a key,
 * like an HTTP route without an `auth` declaration. Keys come in metadata `authorization: Bearer
 * <key>` or `x-api-key`, checked by the server's ApiKeys.
 */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { classificationStrings, inTargetUnits } from './answers.js';
import type { ApiKeys } from './auth.js';
import type { AuthFailureGuard } from './auth-guard.js';
import { predictWithDeadline, resolveIn, type ServingContext } from './context.js';
import { HttpError, InvalidInputError, NotFoundError } from './errors.js';
import type { ServedVersion } from './model/manager.js';
import { keyDigest, type RequestRateLimiter, rateBucket } from './rate-limit.js';
import { decodeImages, schemaColumns, v2Inputs } from './raw-input.js';
import type { Batch } from './tensor-input.js';

const PROTO = fileURLToPath(new URL('../proto/grpc_predict_v2.proto', import.meta.url));

/** Which methods need a key when keys are set; any method not listed needs one too. */
/** Not counted by the rate limit, like HTTP's /v2/health/* (probes must not eat a client's budget). */
const RATE_EXEMPT = new Set(['ServerLive', 'ServerReady']);

export const GRPC_AUTH: Readonly<Record<string, 'open' | 'key'>> = {
  ServerLive: 'open',
  ServerReady: 'open',
  ServerMetadata: 'open',
  ModelReady: 'key',
  ModelMetadata: 'key',
  ModelInfer: 'key',
};

interface Contents {
  bool_contents?: boolean[];
  int_contents?: number[];
  int64_contents?: number[];
  uint_contents?: number[];
  uint64_contents?: number[];
  fp32_contents?: number[];
  fp64_contents?: number[];
  bytes_contents?: Buffer[];
}

interface InputTensor {
  name: string;
  datatype: string;
  shape: number[];
  contents?: Contents | null;
}

interface ModelRef {
  name: string;
  version: string;
}

interface InferRequest {
  model_name: string;
  model_version: string;
  id: string;
  inputs: InputTensor[];
  outputs: { name: string; parameters?: Record<string, { int64_param?: number; parameter_choice?: string }> }[];
  raw_input_contents: Buffer[];
}

/** One input's values: numbers, or BYTES elements. */
type Values = { numbers: ArrayLike<number>; bytes?: undefined } | { bytes: Buffer[]; numbers?: undefined };

export interface GrpcOptions {
  ctx: ServingContext;
  keys: ApiKeys;
  /** The HTTP server's count of failed keys per address: a guesser's budget is shared by both protocols. */
  guard: AuthFailureGuard;
  /** The HTTP server's request rate limit (`--rate-limit`): one budget per key or address for both protocols. */
  rateLimiter?: RequestRateLimiter | undefined;
  version: string;
  /** Largest message accepted, in bytes (the HTTP body limit). */
  maxMessageBytes: number;
  tls?: { cert: string | Buffer; key: string | Buffer } | undefined;
  log: { info(obj: object, msg: string): void; error(obj: object, msg: string): void };
}

export interface GrpcServer {
  /** host:port it listens on. */
  address: string;
  close(): Promise<void>;
}

function statusOf(err: unknown): { code: grpc.status; details: string } {
  if (err instanceof HttpError) {
    const codes: Record<number, grpc.status> = {
      400: grpc.status.INVALID_ARGUMENT,
      401: grpc.status.UNAUTHENTICATED,
      404: grpc.status.NOT_FOUND,
      413: grpc.status.RESOURCE_EXHAUSTED,
      415: grpc.status.INVALID_ARGUMENT,
      501: grpc.status.UNIMPLEMENTED,
      503: grpc.status.UNAVAILABLE,
      504: grpc.status.DEADLINE_EXCEEDED,
    };
    return { code: codes[err.statusCode] ?? grpc.status.INVALID_ARGUMENT, details: err.message };
  }
  return { code: grpc.status.INTERNAL, details: 'internal server error' };
}

/** BYTES elements of a raw input: each a 4-byte little-endian length, then that many bytes. */
function splitBytes(raw: Buffer, where: string): Buffer[] {
  const items: Buffer[] = [];
  let at = 0;
  while (at < raw.length) {
    if (at + 4 > raw.length) throw new InvalidInputError(`${where}: truncated BYTES element length`);
    const length = raw.readUInt32LE(at);
    at += 4;
    if (at + length > raw.length) throw new InvalidInputError(`${where}: BYTES element runs past the end`);
    items.push(raw.subarray(at, at + length));
    at += length;
  }
  return items;
}

/** The client address of a gRPC peer ("ipv4:127.0.0.1:5000", "ipv6:[::1]:5000"), as HTTP's req.ip spells it. */
function peerAddress(peer: string): string {
  const bare = peer.replace(/^ipv[46]:/, '');
  const v6 = /^\[(.*)\]:\d+$/.exec(bare);
  if (v6?.[1]) return v6[1];
  return bare.replace(/:\d+$/, '');
}

function lengthPrefix(length: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(length);
  return b;
}

/** Typed values from little-endian bytes (copied: a gRPC buffer need not be aligned). */
function rawNumbers(raw: Buffer, datatype: string, where: string): ArrayLike<number> {
  const width = { FP32: 4, FP64: 8, INT32: 4, INT64: 8 }[datatype];
  if (width === undefined) throw new InvalidInputError(`${where}: raw contents of ${datatype} are not supported`);
  if (raw.length % width !== 0)
    throw new InvalidInputError(`${where}: ${raw.length} bytes is not a whole number of ${datatype}`);
  const copy = new Uint8Array(raw).buffer;
  if (datatype === 'FP32') return new Float32Array(copy);
  if (datatype === 'FP64') return new Float64Array(copy);
  if (datatype === 'INT32') return new Int32Array(copy);
  return Array.from(new BigInt64Array(copy), Number);
}

function inputValues(t: InputTensor, raw: Buffer | undefined, where: string): Values {
  if (t.datatype === 'BYTES') {
    if (raw) return { bytes: splitBytes(raw, where) };
    return { bytes: t.contents?.bytes_contents ?? [] };
  }
  if (raw) return { numbers: rawNumbers(raw, t.datatype, where) };
  const c = t.contents ?? {};
  const field: Record<string, keyof Contents> = {
    FP32: 'fp32_contents',
    FP64: 'fp64_contents',
    INT8: 'int_contents',
    INT16: 'int_contents',
    INT32: 'int_contents',
    INT64: 'int64_contents',
    UINT8: 'uint_contents',
    UINT16: 'uint_contents',
    UINT32: 'uint_contents',
    UINT64: 'uint64_contents',
  };
  const key = field[t.datatype];
  if (!key) throw new InvalidInputError(`${where}: datatype "${t.datatype}" is not supported`);
  return { numbers: (c[key] as number[] | undefined) ?? [] };
}

function elementCount(shape: number[], where: string): number {
  if (shape.length === 0) throw new InvalidInputError(`${where}: shape is empty`);
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new InvalidInputError(`${where}: shape holds ${d}`);
    n *= d;
  }
  return n;
}

/** The request's inputs as a batch for the served version: a plain tensor, BYTES images, or one tensor per feature. */
async function requestBatch(ctx: ServingContext, served: ServedVersion, req: InferRequest): Promise<Batch> {
  const raw = req.raw_input_contents;
  if (raw.length > 0 && raw.length !== req.inputs.length)
    throw new InvalidInputError(`raw_input_contents holds ${raw.length} entries for ${req.inputs.length} inputs`);
  if (req.inputs.length === 0) throw new InvalidInputError('the request has no inputs');
  const values = req.inputs.map((t, i) => {
    const where = `inputs[${i}] ("${t.name}")`;
    const v = inputValues(t, raw[i], where);
    const expected = elementCount(t.shape, where);
    const got = v.numbers ? v.numbers.length : v.bytes.length;
    if (got !== expected)
      throw new InvalidInputError(`${where}: shape ${JSON.stringify(t.shape)} needs ${expected} values, got ${got}`);
    return v;
  });
  const limits = { maxPixels: ctx.maxImagePixels };
  const input = served.input;
  const sig = served.signature;
  const [first] = values;
  const [tensor] = req.inputs;
  if (input.kind === 'image' && values.length === 1 && first?.bytes) {
    if (first.bytes.length > ctx.maxInstances)
      throw new InvalidInputError(
        `inputs[0] holds ${first.bytes.length} images; at most ${ctx.maxInstances} per request`,
      );
    if (first.bytes.length === 0) throw new InvalidInputError('inputs[0] holds no image');
    return decodeImages(input, first.bytes, sig.exampleSize, limits, (i) => `inputs[0] element ${i}`);
  }
  if (input.kind === 'tabular' && req.inputs.every((t) => input.features.some((f) => f.name === t.name))) {
    const columns: Record<string, unknown> = {};
    req.inputs.forEach((t, i) => {
      const v = values[i];
      columns[t.name] = v?.bytes ? v.bytes.map((b) => b.toString('utf8')) : Array.from(v?.numbers ?? []);
    });
    const batch = await schemaColumns(served, columns, ctx.maxInstances, limits);
    if (batch) return batch;
  }
  // A plain tensor: one numeric input of shape [batch, ...example shape].
  if (values.length !== 1 || !first?.numbers || !tensor)
    throw new InvalidInputError(
      `the model takes one FP32 input "${sig.inputName}" of shape [-1, ${sig.exampleShape.join(', ')}]`,
    );
  const count = tensor.shape[0] ?? 0;
  if (count === 0) throw new InvalidInputError('inputs[0]: the batch is empty');
  if (count > ctx.maxInstances)
    throw new InvalidInputError(`inputs[0] holds ${count} examples; at most ${ctx.maxInstances} per request`);
  if (first.numbers.length !== count * sig.exampleSize)
    throw new InvalidInputError(
      `inputs[0]: shape ${JSON.stringify(tensor.shape)} does not hold ${count} examples of ${sig.exampleSize} values`,
    );
  const batchValues = first.numbers instanceof Float32Array ? first.numbers : Float32Array.from(first.numbers);
  for (let i = 0; i < batchValues.length; i++) {
    if (!Number.isFinite(batchValues[i])) throw new InvalidInputError(`inputs[0]: value ${i} is not a finite float32`);
  }
  return { values: batchValues, count };
}

export async function startGrpcServer(port: number, host: string, options: GrpcOptions): Promise<GrpcServer> {
  const { ctx, keys } = options;
  const definition = protoLoader.loadSync(PROTO, {
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    inference: { GRPCInferenceService: grpc.ServiceClientConstructor };
  };
  const service = loaded.inference.GRPCInferenceService.service;

  const find = (name: string, version: string) => {
    const model = ctx.models.get(name);
    if (!model) throw new NotFoundError(`Model with name ${name} does not exist.`);
    return { model, served: resolveIn(model, version ? { version } : {}) };
  };

  // Requests arrive as proto-loader decoded them (keepCase, defaults: every field present); each handler names its type.
  const methods: Record<string, (req: unknown) => Promise<unknown>> = {
    ServerLive: async () => ({ live: true }),
    ServerReady: async () => ({ ready: ctx.models.ready }),
    ServerMetadata: async () => ({ name: 'tuneserve', version: options.version, extensions: ['model_repository'] }),
    ModelReady: async (req) => {
      const { name, version } = req as ModelRef;
      try {
        find(name, version);
        return { ready: true };
      } catch (e) {
        if (e instanceof HttpError && e.statusCode === 503) return { ready: false };
        throw e;
      }
    },
    ModelMetadata: async (req) => {
      const { name, version } = req as ModelRef;
      const { model, served } = find(name, version);
      const sig = served.signature;
      const inputs = v2Inputs(served);
      return {
        name: model.name,
        versions: model.versions.versions().map(String),
        platform: 'tensorflowjs_layers',
        inputs,
        outputs: [{ name: sig.outputName, datatype: 'FP32', shape: [-1, sig.outputSize] }],
      };
    },
    ModelInfer: async (request) => {
      const req = request as InferRequest;
      const { model, served } = find(req.model_name, req.model_version);
      const sig = served.signature;
      for (const out of req.outputs) {
        if (out.name !== sig.outputName)
          throw new InvalidInputError(
            `requested output "${out.name}" does not exist; the model's output is "${sig.outputName}"`,
          );
      }
      const batch = await requestBatch(ctx, served, req);
      const out = inTargetUnits(served.output, await predictWithDeadline(ctx, served, batch));
      const raw = req.raw_input_contents.length > 0;
      const classes = req.outputs[0]?.parameters?.classification;
      if (classes) {
        // Triton's classification extension: BYTES "score:index:label", best first.
        const strings = classificationStrings(served.output, out, batch.count, classes.int64_param);
        const bytes = strings.map((t) => Buffer.from(t, 'utf8'));
        const tensor = { name: sig.outputName, datatype: 'BYTES', shape: [batch.count, strings.length / batch.count] };
        return {
          model_name: model.name,
          model_version: String(served.version),
          id: req.id,
          outputs: [raw ? tensor : { ...tensor, contents: { bytes_contents: bytes } }],
          raw_output_contents: raw ? [Buffer.concat(bytes.flatMap((b) => [lengthPrefix(b.length), b]))] : [],
        };
      }
      const tensor = { name: sig.outputName, datatype: 'FP32', shape: [batch.count, sig.outputSize] };
      return {
        model_name: model.name,
        model_version: String(served.version),
        id: req.id,
        outputs: [raw ? tensor : { ...tensor, contents: { fp32_contents: Array.from(out) } }],
        raw_output_contents: raw ? [Buffer.from(out.buffer, out.byteOffset, out.byteLength)] : [],
      };
    },
  };

  const presentedKey = (metadata: grpc.Metadata): string | undefined => {
    const auth = metadata.get('authorization')[0];
    if (typeof auth === 'string') {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
      if (m?.[1]) return m[1];
    }
    const key = metadata.get('x-api-key')[0];
    return typeof key === 'string' && key.length > 0 ? key : undefined;
  };

  const limiter = options.rateLimiter;
  const implementation: grpc.UntypedServiceImplementation = {};
  for (const name of Object.keys(service)) {
    const open = GRPC_AUTH[name] === 'open';
    const handler = methods[name];
    implementation[name] = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      const address = peerAddress(call.getPeer());
      let verified: string | null = null;
      if (!open && keys.enabled) {
        const tooMany = (ms: number) =>
          callback({
            code: grpc.status.RESOURCE_EXHAUSTED,
            details: `too many failed API keys from this address; retry in ${Math.ceil(ms / 1000)} s`,
          });
        const blocked = options.guard.blockedFor(address);
        if (blocked > 0) return tooMany(blocked);
        const key = presentedKey(call.metadata);
        if (!key || !keys.matches(key)) {
          // As over HTTP: only a presented, wrong key counts as a guess.
          const nowBlocked = key ? options.guard.fail(address) : 0;
          if (nowBlocked > 0) return tooMany(nowBlocked);
          callback({
            code: grpc.status.UNAUTHENTICATED,
            details: key
              ? 'invalid API key'
              : 'missing API key: send metadata "authorization: Bearer <key>" or "x-api-key"',
          });
          return;
        }
        verified = keyDigest(key);
      }
      // After the key check, as over HTTP: the bucket is the verified key, else the address.
      if (limiter && !RATE_EXEMPT.has(name)) {
        const { current, ttl } = limiter.hit(rateBucket(verified, address));
        if (current > limiter.limit.max) {
          const seconds = Math.max(1, Math.ceil(ttl / 1000));
          const trailer = new grpc.Metadata();
          trailer.set('retry-after', String(seconds));
          callback({
            code: grpc.status.RESOURCE_EXHAUSTED,
            details: `rate limit exceeded: at most ${limiter.limit.max} requests per ${limiter.limit.windowMs} ms; retry in ${seconds} s`,
            metadata: trailer,
          });
          return;
        }
      }
      if (!handler) {
        callback({ code: grpc.status.UNIMPLEMENTED, details: `${name} is not implemented` });
        return;
      }
      handler(call.request).then(
        (reply) => callback(null, reply),
        (err: unknown) => {
          const status = statusOf(err);
          if (status.code === grpc.status.INTERNAL) options.log.error({ err, method: name }, 'gRPC call failed');
          callback(status);
        },
      );
    };
  }

  const server = new grpc.Server({
    // channelz (call counters and traces per call for gRPC's debugging service) is not served here: off saves its work per call.
    'grpc.enable_channelz': 0,
    'grpc.max_receive_message_length': options.maxMessageBytes,
    'grpc.max_send_message_length': 64 * 1024 * 1024,
  });
  server.addService(service, implementation);
  const credentials = options.tls
    ? grpc.ServerCredentials.createSsl(null, [
        { cert_chain: Buffer.from(options.tls.cert), private_key: Buffer.from(options.tls.key) },
      ])
    : grpc.ServerCredentials.createInsecure();
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host.includes(':') ? `[${host}]` : host}:${port}`, credentials, (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  const address = `${host.includes(':') ? `[${host}]` : host}:${bound}`;
  options.log.info({ address }, 'KServe v2 gRPC listening');
  return {
    address,
    close: () =>
      new Promise<void>((resolve) => {
        // In-flight calls finish; anything still open after 5 s is cut.
        const force = setTimeout(() => server.forceShutdown(), 5000);
        force.unref();
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}
