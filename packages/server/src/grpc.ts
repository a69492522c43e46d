/**
 * KServe v2 (Open Inference Protocol) over gRPC: GRPCInferenceService on its own port, beside the
 * HTTP server, answering from the same models with the same parsing, limits and deadlines. Auth is
 * decided per method from one table, deny by default: a method missing from the table needs a key,
 * like an HTTP route without an `auth` declaration. Keys come in metadata `authorization: Bearer
 * <key>` or `x-api-key`, checked by the server's ApiKeys. ModelStreamInfer (Triton's streaming method) checks
 * the key once when the stream opens and counts every message in the rate limit.
 */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ApiKeys } from './auth.js';
import type { AuthFailureGuard } from './auth-guard.js';
import type { ServingContext } from './context.js';
import { HttpError } from './errors.js';
import { findModel, type InferRequest, type InferResponse, type ModelRef, modelInfer, statusOf } from './grpc-infer.js';
import { type ServedStream, serveStream } from './grpc-stream.js';
import { keyDigest, type RequestRateLimiter, rateBucket } from './rate-limit.js';
import { v2Inputs } from './raw-input.js';

const PROTO = fileURLToPath(new URL('../proto/grpc_predict_v2.proto', import.meta.url));

/** Not counted by the rate limit, like HTTP's /v2/health/* (probes must not eat a client's budget). */
const RATE_EXEMPT = new Set(['ServerLive', 'ServerReady']);

/** Which methods need a key when keys are set; any method not listed needs one too. */
export const GRPC_AUTH: Readonly<Record<string, 'open' | 'key'>> = {
  ServerLive: 'open',
  ServerReady: 'open',
  ServerMetadata: 'open',
  ModelReady: 'key',
  ModelMetadata: 'key',
  ModelInfer: 'key',
  ModelStreamInfer: 'key',
};

/** Messages of one ModelStreamInfer stream in flight at once; past it the stream stops reading (flow control). */
const STREAM_WINDOW = 64;

type Refusal = { code: grpc.status; details: string; metadata?: grpc.Metadata };

/** A stream message refused before inference (the rate limit): its message is the answer's error_message. */
class RefusedError extends Error {}

interface StreamInferResponse {
  error_message: string;
  infer_response: Partial<InferResponse>;
}

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

/** The client address of a gRPC peer ("ipv4:127.0.0.1:5000", "ipv6:[::1]:5000"), as HTTP's req.ip spells it. */
function peerAddress(peer: string): string {
  const bare = peer.replace(/^ipv[46]:/, '');
  const v6 = /^\[(.*)\]:\d+$/.exec(bare);
  if (v6?.[1]) return v6[1];
  return bare.replace(/:\d+$/, '');
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

  // Requests arrive as proto-loader decoded them (keepCase, defaults: every field present); each handler names its type.
  const methods: Record<string, (req: unknown) => Promise<unknown>> = {
    ServerLive: async () => ({ live: true }),
    ServerReady: async () => ({ ready: ctx.models.ready }),
    ServerMetadata: async () => ({ name: 'tuneserve', version: options.version, extensions: ['model_repository'] }),
    ModelReady: async (req) => {
      const { name, version } = req as ModelRef;
      try {
        findModel(ctx, name, version);
        return { ready: true };
      } catch (e) {
        if (e instanceof HttpError && e.statusCode === 503) return { ready: false };
        throw e;
      }
    },
    ModelMetadata: async (req) => {
      const { name, version } = req as ModelRef;
      const { model, served } = findModel(ctx, name, version);
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
    ModelInfer: (req) => modelInfer(ctx, req as InferRequest),
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

  /** The key check of a call (a stream's is made once, when it opens): the refusal, or the verified key's digest. */
  const admit = (open: boolean, address: string, metadata: grpc.Metadata): Refusal | { verified: string | null } => {
    if (open || !keys.enabled) return { verified: null };
    const tooMany = (ms: number): Refusal => ({
      code: grpc.status.RESOURCE_EXHAUSTED,
      details: `too many failed API keys from this address; retry in ${Math.ceil(ms / 1000)} s`,
    });
    const blocked = options.guard.blockedFor(address);
    if (blocked > 0) return tooMany(blocked);
    const key = presentedKey(metadata);
    if (!key || !keys.matches(key)) {
      // As over HTTP: only a presented, wrong key counts as a guess.
      const nowBlocked = key ? options.guard.fail(address) : 0;
      if (nowBlocked > 0) return tooMany(nowBlocked);
      return {
        code: grpc.status.UNAUTHENTICATED,
        details: key
          ? 'invalid API key'
          : 'missing API key: send metadata "authorization: Bearer <key>" or "x-api-key"',
      };
    }
    return { verified: keyDigest(key) };
  };

  /** Counts one request (each message of a stream) in the shared rate limit: the refusal past it, else undefined. */
  const limiter = options.rateLimiter;
  const overLimit = (bucket: string): Refusal | undefined => {
    if (!limiter) return undefined;
    const { current, ttl } = limiter.hit(bucket);
    if (current <= limiter.limit.max) return undefined;
    const seconds = Math.max(1, Math.ceil(ttl / 1000));
    const metadata = new grpc.Metadata();
    metadata.set('retry-after', String(seconds));
    return {
      code: grpc.status.RESOURCE_EXHAUSTED,
      details: `rate limit exceeded: at most ${limiter.limit.max} requests per ${limiter.limit.windowMs} ms; retry in ${seconds} s`,
      metadata,
    };
  };

  const failure = (method: string, err: unknown) => {
    const status = statusOf(err);
    if (status.code === grpc.status.INTERNAL) options.log.error({ err, method }, 'gRPC call failed');
    return status;
  };

  // Open ModelStreamInfer streams: at shutdown each answers what it has read, then ends with UNAVAILABLE.
  const openStreams = new Set<ServedStream>();
  const implementation: grpc.UntypedServiceImplementation = {};
  for (const name of Object.keys(service)) {
    const open = GRPC_AUTH[name] === 'open';
    const counted = !RATE_EXEMPT.has(name);
    if (name === 'ModelStreamInfer') {
      implementation[name] = (call: grpc.ServerDuplexStream<InferRequest, StreamInferResponse>) => {
        const address = peerAddress(call.getPeer());
        const admitted = admit(open, address, call.metadata);
        if ('code' in admitted) {
          call.emit('error', admitted);
          return;
        }
        // After the key check, as over HTTP: the bucket is the verified key, else the address.
        const bucket = rateBucket(admitted.verified, address);
        const failed = (req: InferRequest, err: unknown): StreamInferResponse => ({
          // Triton's way: the message's own error, its id and model so the client can match it; the stream goes on.
          error_message: err instanceof RefusedError ? err.message : failure(name, err).details,
          infer_response: { model_name: req.model_name, model_version: req.model_version, id: req.id },
        });
        const served = serveStream(
          call,
          {
            answer: async (req) => {
              const refused = overLimit(bucket);
              if (refused) throw new RefusedError(refused.details);
              return { error_message: '', infer_response: await modelInfer(ctx, req) };
            },
            failed,
          },
          STREAM_WINDOW,
        );
        openStreams.add(served);
        void served.done.then(() => openStreams.delete(served));
      };
      continue;
    }
    const handler = methods[name];
    implementation[name] = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      // The peer's address is only needed by the key check and the rate limit.
      const address = (!open && keys.enabled) || (limiter && counted) ? peerAddress(call.getPeer()) : '';
      const admitted = admit(open, address, call.metadata);
      if ('code' in admitted) return callback(admitted);
      // After the key check, as over HTTP: the bucket is the verified key, else the address.
      const refused = counted && limiter ? overLimit(rateBucket(admitted.verified, address)) : undefined;
      if (refused) return callback(refused);
      if (!handler) return callback({ code: grpc.status.UNIMPLEMENTED, details: `${name} is not implemented` });
      handler(call.request).then(
        (reply) => callback(null, reply),
        (err: unknown) => callback(failure(name, err)),
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
        // In-flight calls finish (streams after answering what they have read); anything still open after 5 s is cut.
        for (const stream of openStreams)
          stream.finish({ code: grpc.status.UNAVAILABLE, details: 'the server is shutting down' });
        const force = setTimeout(() => server.forceShutdown(), 5000);
        force.unref();
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}
