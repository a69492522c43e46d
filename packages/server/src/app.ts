/**
 * Builds the Fastify app: one plugin per concern (security, metrics, docs, reference, tfserving,
 * kserve, api, static), one error handler that turns every failure into `{"error": ...}` with a
 * meaningful status (never a stack trace or a path), and a model manager behind it all.
 */
import { randomBytes } from 'node:crypto';
import { basename, dirname, resolve } from 'node:path';
import { versionOf } from '@tuneserve/runtime';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { ApiKeys } from './auth.js';
import { AuthFailureGuard } from './auth-guard.js';
import type { ServingContext } from './context.js';
import { Deadlines } from './deadlines.js';
import { HttpError } from './errors.js';
import { type GrpcServer, startGrpcServer } from './grpc.js';
import { registerJsonParser } from './json-body.js';
import { ServerMetrics } from './metrics.js';
import { MODEL_NAME, type ModelSpec } from './model/config.js';
import { ModelRegistry } from './model/registry.js';
import { apiPlugin } from './plugins/api.js';
import { registerDocs } from './plugins/docs.js';
import { kservePlugin } from './plugins/kserve.js';
import { labelledPlugin } from './plugins/labelled.js';
import { metricsHooks, metricsPlugin } from './plugins/metrics.js';
import { referencePlugin } from './plugins/reference.js';
import { securityPlugin } from './plugins/security.js';
import { staticPlugin } from './plugins/static.js';
import { tfServingPlugin } from './plugins/tfserving.js';
import { RequestRateLimiter } from './rate-limit.js';
import { RouteTable } from './route-policy.js';
import type { ModelSampleSource, SampleSource, StudySource } from './sources.js';
import { StudyFeeds } from './study-feed.js';

export const SERVER_VERSION = '0.1.0';
export const MiB = 1024 * 1024;

export interface ServerOptions {
  /** One model: a versions root (`models/mnist` holding `1/`, `2/`, ...) or a single model folder. */
  modelDir?: string;
  /** Name of `modelDir` in URLs; default: the folder's name. */
  modelName?: string;
  /** Newest versions kept loaded and reachable by URL (default 1, TF Serving's latest{1}); for `modelDir` and `modelRoot`. */
  keepVersions?: number;
  /** TF Serving version labels of `modelDir`, e.g. {stable: 2}. */
  labels?: Record<string, number>;
  /** Many models: every sub-folder `<name>/` of this folder is a model's versions root; added and removed live. */
  modelRoot?: string;
  /** Models from a model config file (see loadModelConfig). */
  models?: ModelSpec[];
  /** Model of the single-model routes (/predict, /api/model); default: the only one, else `mnist`, else the first by name. */
  defaultModel?: string;
  /** Allow the KServe v2 repository extension's load/unload (default false: index only). */
  modelControl?: boolean;
  /** How often model roots are scanned for new versions and models (default 1000 ms; 0: never). */
  pollIntervalMs?: number;
  /** Most decoded pixels (width x height) of one image input (default 25 megapixels). */
  maxImagePixels?: number;
  /** Largest image upload in bytes: raw `image/*` body, multipart file, or JSON body of the labelled predict route (default 8 MiB). */
  maxImageBytes?: number;
  /** Most examples per model call (default 64). */
  maxBatchSize?: number;
  /** How long a batch waits for more requests (default 0: until the event loop turn ends). */
  batchTimeoutMs?: number;
  /** Most examples one request may carry (default 1024). */
  maxInstances?: number;
  /** Deadline for receiving a request and for a prediction (default 30000 ms, as TF Serving). */
  requestTimeoutMs?: number;
  /** Largest request body in bytes (default 1 MiB). */
  bodyLimit?: number;
  /** Serve KServe v2 over gRPC on this port too (0: any free port; default: off). */
  grpcPort?: number;
  /** Plain API keys (e.g. from API_KEYS). */
  apiKeys?: string[];
  /** SHA-256 hex digests of API keys (e.g. from a key file). */
  apiKeyHashes?: string[];
  /** Serve /metrics without a key even when keys are set (default false). */
  metricsOpen?: boolean;
  /** Requests per window per verified key, else per client address (default 0: off). */
  rateLimit?: { max: number; windowMs?: number };
  /** Wrong API keys one client address may present per window before it gets 429 (default 10 per 60 s; max 0: off). */
  authFailureLimit?: { max: number; windowMs?: number };
  /**
   * Which proxies' X-Forwarded-For to believe for the client address (Fastify's trustProxy): a hop count, or
   * addresses/CIDRs of the proxies. Default: none, the address is the socket's peer.
   */
  trustProxy?: number | string[];
  /** Origins allowed by CORS (default none). */
  corsOrigins?: string[];
  /** Serve HTTPS with this certificate and key (PEM). */
  https?: { cert: string | Buffer; key: string | Buffer };
  /** Directory with the web front end's bundle (e.g. packages/web/dist). */
  webRoot?: string;
  study?: StudySource;
  /** Test examples of the server's data (the default model's when no per-model source knows better). */
  samples?: SampleSource;
  /** Test examples of the data each model was trained on. */
  modelSamples?: ModelSampleSource;
  /** How often /api/study/events checks the study (default 1000 ms), once per server however many streams. */
  studyPollMs?: number;
  /** Event streams: most open at once (default 100; beyond: 503), heartbeat period (default 15 s). */
  eventStreams?: { max?: number; heartbeatMs?: number };
  /** pino logger settings (default: JSON logs at info on stdout). */
  logger?: { level?: string; stream?: NodeJS.WritableStream };
  /** Include Node's default process metrics in /metrics (default true). */
  defaultMetrics?: boolean;
}

export interface TuneServer {
  app: FastifyInstance;
  /** Every registered route with its declared auth (for the auth tests and for operators). */
  routes: RouteTable;
  models: ModelRegistry;
  metrics: ServerMetrics;
  /** Starts listening (and gRPC on `grpcPort` when set); resolves with the base URL. */
  listen(port: number, host: string): Promise<string>;
  /** host:port of the gRPC server once listening, when `grpcPort` is set. */
  grpcAddress(): string | undefined;
  /** Stops accepting, finishes in-flight requests, unloads the models. */
  close(): Promise<void>;
}

/**
 * Proxy addresses/CIDRs as the comma list proxy-addr reads; a hop count as "the nearest N addresses are proxies"
 * (Fastify alone treats a bare number as trusting nothing, since it cannot tell a proxy from a client that sends
 * X-Forwarded-For itself; that is only safe when clients can reach this port through the proxies alone).
 */
function trustProxySetting(trust: number | string[]): string | ((address: string, hop: number) => boolean) {
  if (typeof trust !== 'number') return trust.join(',');
  return (_address, hop) => hop < trust;
}

const REQUEST_ID = /^[\w.-]{1,64}$/;

function errorReply(err: FastifyError | HttpError): { status: number; message: string } {
  if (err instanceof HttpError) return { status: err.statusCode, message: err.message };
  const fe = err as FastifyError;
  if (fe.validation) return { status: 400, message: `invalid request: ${fe.message}` };
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, message: 'request body is too large' };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, message: 'unsupported content type: send application/json' };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, message: 'the JSON body is empty' };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { status: 400, message: 'the body is not valid JSON' };
  }
  if (err instanceof SyntaxError) return { status: 400, message: 'the body is not valid JSON' };
  const status = fe.statusCode ?? 500;
  if (status >= 400 && status < 500) return { status, message: fe.message };
  return { status: 500, message: 'internal server error' };
}

/** The models named one by one: `modelDir` (+ `modelName`) and the config file's list. */
function namedModels(options: ServerOptions): ModelSpec[] {
  const specs = [...(options.models ?? [])];
  if (options.modelDir !== undefined) {
    const root = resolve(options.modelDir);
    // A single version folder (models/mnist/1) is named after its model, not its version number.
    const name = options.modelName ?? basename(versionOf(basename(root)) !== undefined ? dirname(root) : root);
    if (!MODEL_NAME.test(name)) throw new Error(`model name "${name}" must match ${MODEL_NAME.source}`);
    if (specs.some((s) => s.name === name)) throw new Error(`model "${name}" is named twice`);
    specs.unshift({
      name,
      basePath: root,
      versionPolicy: { latest: Math.max(1, options.keepVersions ?? 1) },
      labels: { ...(options.labels ?? {}) },
    });
  }
  if (specs.length === 0 && options.modelRoot === undefined)
    throw new Error('nothing to serve: give a model folder, a model root or a model config');
  return specs;
}

export async function createServer(options: ServerOptions): Promise<TuneServer> {
  const specs = namedModels(options);
  const metrics = new ServerMetrics(options.defaultMetrics ?? true);
  const keys = new ApiKeys(options.apiKeys ?? [], options.apiKeyHashes ?? []);
  // One count of failed keys per address for HTTP and gRPC alike.
  const guard = new AuthFailureGuard({
    max: options.authFailureLimit?.max ?? 10,
    windowMs: options.authFailureLimit?.windowMs ?? 60_000,
  });
  // One request budget per key (or address) for HTTP and gRPC alike.
  const rateLimiter =
    options.rateLimit && options.rateLimit.max > 0
      ? new RequestRateLimiter({ max: options.rateLimit.max, windowMs: options.rateLimit.windowMs ?? 60_000 })
      : undefined;
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  // Request ids: this process's random prefix and a counter (unique per run, no random draw per request).
  const idPrefix = randomBytes(6).toString('hex');
  let requestCount = 0;

  const app = Fastify({
    logger: {
      level: options.logger?.level ?? 'info',
      ...(options.logger?.stream ? { stream: options.logger.stream } : {}),
    },
    bodyLimit: options.bodyLimit ?? MiB,
    requestTimeout: requestTimeoutMs,
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given)
        ? given
        : `${idPrefix}-${(++requestCount).toString(36)}`;
    },
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    ...(options.https ? { https: { cert: options.https.cert, key: options.https.key } } : {}),
    ...(options.trustProxy !== undefined ? { trustProxy: trustProxySetting(options.trustProxy) } : {}),
  }) as unknown as FastifyInstance;
  registerJsonParser(app);

  const models = new ModelRegistry({
    models: specs,
    root: options.modelRoot === undefined ? undefined : resolve(options.modelRoot),
    rootPolicy: { latest: Math.max(1, options.keepVersions ?? 1) },
    defaultModel: options.defaultModel,
    pollIntervalMs: options.pollIntervalMs ?? 1000,
    batching: {
      maxBatchSize: Math.max(1, options.maxBatchSize ?? 64),
      maxWaitMs: Math.max(0, options.batchTimeoutMs ?? 0),
    },
    events: (model) => {
      // Resolved once per model, not per batch (see the metrics hooks).
      const batchSize = metrics.batchSize.labels({ model });
      const examples = metrics.examples.labels({ model });
      return {
        info: (m) => app.log.info({ model }, m),
        error: (m) => app.log.error({ model }, m),
        batch: (n) => {
          batchSize.observe(n);
          examples.inc(n);
        },
        swap: (v) => metrics.modelVersion.set({ model }, v),
        loaded: (n) => metrics.loadedVersions.set({ model }, n),
      };
    },
    log: (message, model) => app.log.info({ model }, message),
  });
  const ctx: ServingContext = {
    models,
    maxInstances: options.maxInstances ?? 1024,
    deadlines: new Deadlines(requestTimeoutMs),
    maxImagePixels: options.maxImagePixels ?? 25_000_000,
    maxImageBytes: options.maxImageBytes ?? 8 * MiB,
  };

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const { status, message } = errorReply(err);
    if (status >= 500 && status !== 503 && status !== 504) req.log.error({ err }, 'request failed');
    else req.log.info({ status, error: message }, 'request rejected');
    return reply.code(status).type('application/json; charset=utf-8').send({ error: message });
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({ error: `no route for ${req.method} ${req.url.split('?')[0]?.slice(0, 200)}` }),
  );

  const routes = new RouteTable();
  await app.register(securityPlugin, {
    keys,
    routes,
    guard,
    corsOrigins: options.corsOrigins ?? [],
    rateLimiter,
    https: options.https !== undefined,
  });
  await app.register(metricsHooks, { metrics });
  await registerDocs(app, SERVER_VERSION);
  await app.register(referencePlugin, { ctx });
  await app.register(tfServingPlugin, { ctx });
  await app.register(kservePlugin, { ctx, version: SERVER_VERSION, modelControl: options.modelControl ?? false });
  const heartbeatMs = options.eventStreams?.heartbeatMs ?? 15_000;
  const feeds = options.study
    ? new StudyFeeds({
        pollMs: options.studyPollMs ?? 1000,
        maxStreams: options.eventStreams?.max ?? 100,
        heartbeatMs,
        // A healthy reader takes each frame at once; 1 MiB unsent is a reader that stopped (or a study of MiBs).
        maxBufferedBytes: MiB,
        stallMs: 2 * heartbeatMs,
        onError: (message) => app.log.warn(message),
        onCount: (open) => metrics.eventStreams.set(open),
        onDrop: () => {
          metrics.eventStreamsDropped.inc();
          app.log.info('dropped an event stream whose reader stopped reading');
        },
      })
    : undefined;
  await app.register(apiPlugin, {
    ctx,
    feeds,
    samples: options.samples,
    modelSamples: options.modelSamples,
    study: options.study,
  });
  await app.register(labelledPlugin, { ctx });
  await app.register(metricsPlugin, { metrics, open: options.metricsOpen ?? false });
  await app.register(staticPlugin, { webRoot: options.webRoot, ctx });

  if (!keys.enabled)
    app.log.warn(
      'no API keys configured: every route is open to anyone who can reach this port (set API_KEYS or --api-key-file)',
    );
  await models.start();
  for (const model of models.list())
    if (!model.ready) app.log.warn({ model: model.name }, 'no model version found yet: not ready until one appears');
  if (models.list().length === 0) app.log.warn('no model found yet: not ready until one appears');

  let closing: Promise<void> | undefined;
  let grpcServer: GrpcServer | undefined;
  return {
    app,
    routes,
    models,
    metrics,
    async listen(port, host) {
      const url = await app.listen({ port, host });
      if (options.grpcPort !== undefined) {
        grpcServer = await startGrpcServer(options.grpcPort, host, {
          ctx,
          keys,
          guard,
          rateLimiter,
          version: SERVER_VERSION,
          maxMessageBytes: options.bodyLimit ?? MiB,
          tls: options.https,
          log: app.log,
        });
      }
      return url;
    },
    grpcAddress: () => grpcServer?.address,
    close() {
      closing ??= (async () => {
        await Promise.all([app.close(), grpcServer?.close()]);
        await Promise.all([models.close(), options.study?.close?.()]);
      })();
      return closing;
    },
  };
}

/** createServer + listen. */
export async function startServer(
  options: ServerOptions & { port?: number; host?: string },
): Promise<TuneServer & { url: string }> {
  const server = await createServer(options);
  try {
    const url = await server.listen(options.port ?? 8080, options.host ?? '0.0.0.0');
    return { ...server, url };
  } catch (e) {
    await server.close();
    throw e;
  }
}
