/**
 * `tuneserve serve`: the model server from the command line or the environment (container
 * friendly), graceful on SIGTERM/SIGINT, optionally multi-process (`--workers N`, node:cluster).
 * `startServe` is what `tuneserve up` calls after training.
 */
import cluster from 'node:cluster';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { initBackend } from '@tuneserve/runtime';
import {
  loadModelConfig,
  type ModelSampleSource,
  type ModelSpec,
  parseKeyFile,
  type SampleSource,
  type ServerOptions,
  type StudySource,
  startServer,
} from '@tuneserve/server';
import { type Command, Option } from 'commander';
import { list } from '../adapters/flags.js';
import { mnistSampleSource, modelSampleSourceFor, studySourceFor } from '../adapters/sources.js';
import { UsageError } from '../errors.js';
import { addServeOptions, resolveServeOptions, type ServeOptions } from './serve-options.js';

export { SERVE_DEFAULTS, type ServeOptions } from './serve-options.js';

export interface ServeHandle {
  url: string;
  close(): Promise<void>;
}

/** The web bundle next to this package in the workspace (packages/web/dist), when it was built. */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../../web/dist', import.meta.url));

function parseLabels(entries: string[]): Record<string, number> {
  const labels: Record<string, number> = {};
  for (const entry of entries) {
    const m = /^([A-Za-z0-9_]+)=([1-9]\d{0,15})$/.exec(entry);
    if (!m?.[1] || !m[2])
      throw new UsageError(
        `--label must look like stable=3 (label [A-Za-z0-9_]+, version a positive integer), got "${entry}"`,
      );
    labels[m[1]] = Number(m[2]);
  }
  return labels;
}

function readFileOrFail(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    throw new UsageError(`cannot read ${what} "${path}"`);
  }
}

/** Turns CLI/env options into server options, failing with a UsageError on anything unusable. */
const isDir = (path: string): boolean => existsSync(path) && statSync(path).isDirectory();

/** The models to serve: --model (default models/mnist when nothing else is named), --model-root, --config. */
async function modelSources(o: ServeOptions): Promise<Pick<ServerOptions, 'modelDir' | 'modelRoot' | 'models'>> {
  const model = o.model ?? (o.modelRoot || o.config ? undefined : 'models/mnist');
  if (model !== undefined && !isDir(model)) {
    throw new UsageError(`model directory "${model}" does not exist (train one with \`tuneserve up\` or pass --model)`);
  }
  if (o.modelRoot !== undefined && !isDir(o.modelRoot))
    throw new UsageError(`--model-root "${o.modelRoot}" is not a directory`);
  let models: ModelSpec[] = [];
  if (o.config !== undefined) {
    try {
      models = await loadModelConfig(o.config);
    } catch (e) {
      throw new UsageError(`--config: ${(e as Error).message}`);
    }
  }
  return {
    ...(model !== undefined ? { modelDir: model } : {}),
    ...(o.modelRoot !== undefined ? { modelRoot: o.modelRoot } : {}),
    models,
  };
}

export async function toServerOptions(
  o: ServeOptions,
  extra: DashboardSources = {},
): Promise<ServerOptions & { port: number; host: string }> {
  const sources = await modelSources(o);
  if (Boolean(o.tlsCert) !== Boolean(o.tlsKey)) throw new UsageError('HTTPS needs both --tls-cert and --tls-key');
  let apiKeyHashes: string[] = [];
  if (o.apiKeyFile) {
    apiKeyHashes = parseKeyFile(readFileOrFail(o.apiKeyFile, 'API key file'));
    const bad = apiKeyHashes.findIndex((h) => !/^[0-9a-fA-F]{64}$/.test(h));
    if (bad >= 0) throw new UsageError(`API key file: entry ${bad + 1} is not a SHA-256 hex digest (64 hex digits)`);
  }
  const webRoot = o.webRoot ?? (existsSync(DEFAULT_WEB_ROOT) ? DEFAULT_WEB_ROOT : undefined);
  if (o.webRoot && !existsSync(o.webRoot)) throw new UsageError(`web root "${o.webRoot}" does not exist`);
  return {
    ...sources,
    ...(o.name ? { modelName: o.name } : {}),
    ...(o.defaultModel ? { defaultModel: o.defaultModel } : {}),
    modelControl: o.modelControl,
    maxImagePixels: o.maxImagePixels,
    ...(o.grpcPort !== undefined ? { grpcPort: o.grpcPort } : {}),
    host: o.host,
    port: o.port,
    keepVersions: o.keepVersions,
    pollIntervalMs: o.pollMs,
    labels: parseLabels(o.label),
    maxBatchSize: o.maxBatch,
    batchTimeoutMs: o.batchTimeoutMs,
    maxInstances: o.maxInstances,
    requestTimeoutMs: o.requestTimeoutMs,
    bodyLimit: o.bodyLimit,
    apiKeys: list(process.env.API_KEYS ?? ''),
    apiKeyHashes,
    metricsOpen: o.metricsOpen,
    rateLimit: { max: o.rateLimit, windowMs: o.rateWindowMs },
    authFailureLimit: { max: o.maxAuthFailures },
    eventStreams: { max: o.maxEventStreams },
    ...(o.trustProxy !== undefined && o.trustProxy !== 0 ? { trustProxy: o.trustProxy } : {}),
    corsOrigins: o.corsOrigin,
    ...(o.tlsCert && o.tlsKey
      ? { https: { cert: readFileOrFail(o.tlsCert, 'TLS certificate'), key: readFileOrFail(o.tlsKey, 'TLS key') } }
      : {}),
    ...(webRoot ? { webRoot } : {}),
    ...(extra.study ? { study: extra.study } : {}),
    ...(extra.samples ? { samples: extra.samples } : {}),
    ...(extra.modelSamples ? { modelSamples: extra.modelSamples } : {}),
    logger: { level: o.logLevel },
  };
}

/**
 * Starts serving in this process and installs SIGTERM/SIGINT handlers that stop accepting, finish
 * in-flight requests, unload the models and let the process exit 0.
 */
export async function startServe(
  given: Partial<ServeOptions>,
  extra: DashboardSources = {},
): Promise<ServeHandle & { closed: Promise<void> }> {
  const o = resolveServeOptions(given);
  const options = await toServerOptions(o, extra);
  await initBackend({ ...(o.backend ? { backend: o.backend } : {}), log: (line) => process.stderr.write(`${line}\n`) });
  const server = await startServer(options).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EADDRINUSE' || err.code === 'EACCES') {
      const why = err.code === 'EADDRINUSE' ? 'is in use' : 'needs privileges';
      throw new UsageError(
        `cannot listen on ${options.host}:${options.port}: the port ${why}; choose another with --port`,
      );
    }
    throw err;
  });
  let resolveClosed: () => void = () => {};
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  const close = async () => {
    await server.close();
    resolveClosed();
  };
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`tuneserve: ${signal} again, exiting now\n`);
      process.exit(1);
    }
    stopping = true;
    server.app.log.info({ signal }, 'shutting down: finishing in-flight requests');
    close().then(
      () => {
        server.app.log.info('stopped');
        // Exit now: a handle held elsewhere (backend, timers) must not keep a container from stopping.
        process.exit(0);
      },
      (e: unknown) => {
        process.stderr.write(`tuneserve: shutdown failed: ${(e as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  const names = server.models.list().map((m) => m.name);
  const grpcAt = server.grpcAddress();
  process.stderr.write(
    `tuneserve: serving ${names.length > 0 ? names.join(', ') : 'no model yet'} at ${server.url}${grpcAt ? ` (gRPC ${grpcAt})` : ''}\n`,
  );
  return { url: server.url, close, closed };
}

/** --workers N: the primary forks N server processes sharing the port and relays stop signals. */
async function runPrimary(workers: number): Promise<void> {
  for (let i = 0; i < workers; i++) cluster.fork();
  const relay = (signal: NodeJS.Signals) => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill(signal);
  };
  process.on('SIGTERM', relay);
  process.on('SIGINT', relay);
  let failed = false;
  await new Promise<void>((resolve) => {
    let alive = workers;
    cluster.on('exit', (_worker, code) => {
      if (code !== 0) failed = true;
      if (--alive === 0) resolve();
    });
  });
  process.off('SIGTERM', relay);
  process.off('SIGINT', relay);
  if (failed) throw new Error('a server worker exited with an error');
}

export function registerServe(program: Command): void {
  const command = program
    .command('serve')
    .description(
      'Serve a TF.js layers model: reference /predict, TF Serving REST, KServe v2, /metrics, /docs, the web page',
    );
  addServeOptions(command)
    .addOption(
      new Option(
        '--samples <source>',
        'test examples for models that do not record their data (models exported by `train` use their own test split): mnist, none, or a directory of IDX files',
      )
        .env('SAMPLES')
        .default('mnist'),
    )
    .addOption(
      new Option('--directory <dir>', 'tuning directory of the study shown by the dashboard').default('tuning'),
    )
    .addOption(
      new Option(
        '--project-name <name>',
        'study shown for models that do not record theirs (default: the one named after the model); a model exported by `train` shows the study it was tuned in',
      ),
    )
    .addOption(new Option('--storage <url>', 'study storage URL (sqlite: or postgres://...)').env('TUNESERVE_STORAGE'))
    .action(async (o: ServeOptions & DashboardFlags) => {
      if (o.workers > 1 && cluster.isPrimary) {
        await toServerOptions(o); // fail fast on bad input before forking
        await runPrimary(o.workers);
        return;
      }
      const handle = await startServe(o, await dashboardSources(o));
      await handle.closed;
    });
}

/** Where the read-only dashboard data comes from; the CLI adapts the tuner and MNIST to the server's sources. */
interface DashboardFlags {
  samples: string;
  directory: string;
  projectName?: string;
  storage?: string;
}

/** What the page and the dashboard read besides the models (the CLI adapts the tuner and the data to them). */
export interface DashboardSources {
  study?: StudySource;
  samples?: SampleSource;
  modelSamples?: ModelSampleSource;
}

async function dashboardSources(o: DashboardFlags): Promise<DashboardSources> {
  const log = (line: string) => process.stderr.write(`tuneserve: ${line}\n`);
  const study = studySourceFor(
    {
      directory: o.directory,
      ...(o.projectName ? { projectName: o.projectName } : {}),
      ...(o.storage ? { storage: o.storage } : {}),
    },
    { onError: log },
  );
  // Each model's own test examples come from the data its training recorded; --samples serves the others.
  if (o.samples === 'none') return { study, modelSamples: modelSampleSourceFor(undefined, log) };
  if (o.samples !== 'mnist' && !existsSync(o.samples)) {
    throw new UsageError(`--samples: "${o.samples}" is neither mnist, none, nor an existing directory`);
  }
  try {
    const samples = await mnistSampleSource(o.samples === 'mnist' ? undefined : o.samples);
    return { study, samples, modelSamples: modelSampleSourceFor(samples, log) };
  } catch (err) {
    throw new UsageError(`--samples: ${(err as Error).message}`);
  }
}
