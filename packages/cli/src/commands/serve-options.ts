/**
 * The serving options as one table: flag, environment variable, default and parser of each. It generates
 * `tuneserve serve`'s options and resolves the same options for callers that set only a few (`tuneserve up`), so a
 * variable means the same thing, and fails the same way, whichever command reads it.
 */
import { isIP } from 'node:net';
import type { BackendName } from '@tuneserve/runtime';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { boolean, integer, list } from '../adapters/flags.js';
import { UsageError } from '../errors.js';

export interface ServeOptions {
  /** One model folder; default models/mnist when neither --model-root nor --config is given. */
  model?: string;
  name?: string;
  modelRoot?: string;
  config?: string;
  defaultModel?: string;
  modelControl: boolean;
  maxImagePixels: number;
  /** Also serve KServe v2 over gRPC on this port. */
  grpcPort?: number;
  host: string;
  port: number;
  keepVersions: number;
  pollMs: number;
  label: string[];
  maxBatch: number;
  batchTimeoutMs: number;
  maxInstances: number;
  requestTimeoutMs: number;
  bodyLimit: number;
  apiKeyFile?: string;
  metricsOpen: boolean;
  rateLimit: number;
  rateWindowMs: number;
  maxAuthFailures: number;
  maxEventStreams: number;
  /** Hop count or proxy addresses/CIDRs whose X-Forwarded-For is believed; 0 or unset: none. */
  trustProxy?: number | string[];
  corsOrigin: string[];
  tlsCert?: string;
  tlsKey?: string;
  webRoot?: string;
  backend?: BackendName;
  workers: number;
  logLevel: string;
}

interface Spec<K extends keyof ServeOptions> {
  key: K;
  /** Commander's flag syntax: `--max-batch <n>`, `--metrics-open [bool]`. */
  flags: string;
  env?: string;
  description: string;
  default?: ServeOptions[K];
  parse?: (value: string, previous: ServeOptions[K]) => ServeOptions[K];
  choices?: readonly string[];
  /** The value a flag with an optional argument takes when given bare (`--metrics-open` = true). */
  preset?: string;
}
type AnySpec = Spec<keyof ServeOptions>;
const spec = <K extends keyof ServeOptions>(s: Spec<K>): AnySpec => s as unknown as AnySpec;

const int = (key: keyof ServeOptions, flags: string, env: string, fallback: number, min: number, description: string) =>
  spec({ key, flags, env, description, default: fallback, parse: integer(flags.split(' ')[0] ?? flags, min) });

/** A switch: bare `--flag` is on; `--flag false` and VAR=false|0|no|off are off; any other word is an error. */
const onOff = (key: keyof ServeOptions, flag: string, env: string | undefined, description: string) =>
  spec({
    key,
    flags: `${flag} [bool]`,
    ...(env ? { env } : {}),
    description: `${description} (${flag} alone = true; or 1/0, yes/no, on/off)`,
    default: false,
    preset: 'true',
    parse: boolean(flag),
  });

const PROXY_NAMES = ['loopback', 'linklocal', 'uniquelocal'];
function isProxyAddress(entry: string): boolean {
  if (PROXY_NAMES.includes(entry)) return true;
  const [address = '', bits, ...rest] = entry.split('/');
  const version = isIP(address);
  if (version === 0 || rest.length > 0) return false;
  return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (version === 4 ? 32 : 128));
}

/** `--trust-proxy 1` (hops) or `--trust-proxy 10.0.0.0/8,127.0.0.1` (the proxies' addresses, safer). */
function trustProxy(value: string): number | string[] {
  if (/^\s*\d+\s*$/.test(value)) return integer('--trust-proxy', 0)(value);
  const entries = list(value);
  const bad = entries.find((e) => !isProxyAddress(e));
  if (entries.length === 0 || bad !== undefined) {
    throw new InvalidArgumentError(
      `--trust-proxy must be a hop count or proxy addresses/CIDRs (e.g. 10.0.0.0/8, loopback), got "${bad ?? value}"`,
    );
  }
  return entries;
}

export const SERVE_TABLE: readonly AnySpec[] = [
  spec({
    key: 'model',
    flags: '--model <dir>',
    env: 'MODEL_DIR',
    description:
      "one model's versions root (holding 1/, 2/, ...) or a single model folder (default models/mnist unless --model-root or --config)",
  }),
  spec({
    key: 'name',
    flags: '--name <name>',
    env: 'MODEL_NAME',
    description: 'model name in URLs (default: the folder name)',
  }),
  spec({
    key: 'modelRoot',
    flags: '--model-root <dir>',
    env: 'MODEL_ROOT',
    description: 'serve every <name>/<version>/ below this folder; models added or removed live',
  }),
  spec({
    key: 'config',
    flags: '--config <file>',
    env: 'MODEL_CONFIG',
    description:
      'model config (JSON or YAML): {models: [{name, base_path, version_policy: {latest: N}|{all: true}|{specific: [..]}, labels}]}',
  }),
  spec({
    key: 'defaultModel',
    flags: '--default-model <name>',
    env: 'DEFAULT_MODEL',
    description: 'model answering /predict and /api/model (default: the only one, else mnist)',
  }),
  onOff('modelControl', '--model-control', 'MODEL_CONTROL', 'allow KServe v2 repository load/unload requests'),
  int(
    'maxImagePixels',
    '--max-image-pixels <n>',
    'MAX_IMAGE_PIXELS',
    25_000_000,
    1,
    'most decoded pixels of one image input (against decompression bombs)',
  ),
  spec({ key: 'host', flags: '--host <host>', env: 'HOST', description: 'address to listen on', default: '0.0.0.0' }),
  int('port', '--port <n>', 'PORT', 8080, 0, 'port to listen on'),
  spec({
    key: 'grpcPort',
    flags: '--grpc-port <n>',
    env: 'GRPC_PORT',
    description: 'also serve KServe v2 over gRPC on this port (default: off)',
    parse: integer('--grpc-port', 0),
  }),
  int('keepVersions', '--keep-versions <n>', 'KEEP_VERSIONS', 1, 1, 'newest versions kept loaded and reachable by URL'),
  int('pollMs', '--poll-ms <ms>', 'POLL_INTERVAL_MS', 1000, 0, 'how often to look for new versions (0: never)'),
  spec({
    key: 'label',
    flags: '--label <label=version>',
    env: 'MODEL_LABELS',
    description: 'TF Serving version label, e.g. stable=3 (repeatable, or comma list)',
    default: [],
    parse: list,
  }),
  int('maxBatch', '--max-batch <n>', 'MAX_BATCH_SIZE', 64, 1, 'most examples per model call (micro-batching)'),
  int(
    'batchTimeoutMs',
    '--batch-timeout-ms <ms>',
    'BATCH_TIMEOUT_MS',
    0,
    0,
    'how long a batch waits for more requests (0: end of the event-loop turn)',
  ),
  int('maxInstances', '--max-instances <n>', 'MAX_INSTANCES', 1024, 1, 'most examples in one request'),
  int(
    'requestTimeoutMs',
    '--request-timeout-ms <ms>',
    'REQUEST_TIMEOUT_MS',
    30_000,
    1,
    'deadline to receive a request and to predict',
  ),
  int('bodyLimit', '--body-limit <bytes>', 'BODY_LIMIT', 1024 * 1024, 1, 'largest request body'),
  spec({
    key: 'apiKeyFile',
    flags: '--api-key-file <file>',
    env: 'API_KEY_FILE',
    description: 'file of SHA-256 hex digests of API keys, one per line (API_KEYS env: plain keys, comma-separated)',
  }),
  onOff('metricsOpen', '--metrics-open', 'METRICS_OPEN', 'serve /metrics without an API key'),
  int(
    'rateLimit',
    '--rate-limit <n>',
    'RATE_LIMIT',
    0,
    0,
    'requests per window per verified API key, else per client address (0: off)',
  ),
  int('rateWindowMs', '--rate-window-ms <ms>', 'RATE_WINDOW_MS', 60_000, 1, 'rate-limit window'),
  int(
    'maxAuthFailures',
    '--max-auth-failures <n>',
    'MAX_AUTH_FAILURES',
    10,
    0,
    'wrong API keys one client address may send per minute before it gets 429 (0: no limit)',
  ),
  int(
    'maxEventStreams',
    '--max-event-streams <n>',
    'MAX_EVENT_STREAMS',
    100,
    1,
    'most open /api/study/events streams (beyond: 503); one shared poll of the study feeds them all',
  ),
  spec({
    key: 'trustProxy',
    flags: '--trust-proxy <hops|addresses>',
    env: 'TRUST_PROXY',
    description:
      "believe X-Forwarded-For from these proxies (addresses/CIDRs, or a hop count) for the client's address (default: no proxy)",
    parse: trustProxy,
  }),
  spec({
    key: 'corsOrigin',
    flags: '--cors-origin <origin>',
    env: 'CORS_ORIGINS',
    description: 'allowed CORS origin (repeatable, or comma list; default none)',
    default: [],
    parse: list,
  }),
  spec({
    key: 'tlsCert',
    flags: '--tls-cert <file>',
    env: 'TLS_CERT',
    description: 'PEM certificate: serve HTTPS (with --tls-key)',
  }),
  spec({ key: 'tlsKey', flags: '--tls-key <file>', env: 'TLS_KEY', description: 'PEM private key for --tls-cert' }),
  spec({
    key: 'webRoot',
    flags: '--web-root <dir>',
    env: 'WEB_ROOT',
    description: 'static web front end (default: packages/web/dist when built)',
  }),
  spec({
    key: 'backend',
    flags: '--backend <name>',
    description: 'TF.js backend',
    choices: ['wasm', 'cpu', 'tensorflow'],
  }),
  int('workers', '--workers <n>', 'WORKERS', 1, 1, 'server processes sharing the port (node:cluster)'),
  spec({
    key: 'logLevel',
    flags: '--log-level <level>',
    env: 'LOG_LEVEL',
    description: 'pino log level',
    default: 'info',
    choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
  }),
];

/** Adds every row of the table to a command as a commander Option. */
export function addServeOptions(command: Command): Command {
  for (const s of SERVE_TABLE) {
    const option = new Option(s.flags, s.description);
    if (s.env !== undefined) option.env(s.env);
    if (s.default !== undefined) option.default(s.default);
    if (s.preset !== undefined) option.preset(s.preset);
    if (s.choices) option.choices(s.choices);
    else if (s.parse) option.argParser(s.parse);
    command.addOption(option);
  }
  return command;
}

/** Every default of the table. */
export const SERVE_DEFAULTS: ServeOptions = Object.fromEntries(
  SERVE_TABLE.filter((s) => s.default !== undefined).map((s) => [s.key, s.default]),
) as unknown as ServeOptions;

function fromEnv(s: AnySpec, text: string): ServeOptions[keyof ServeOptions] {
  try {
    if (s.choices && !s.choices.includes(text)) {
      throw new InvalidArgumentError(`must be one of ${s.choices.join(', ')}, got "${text}"`);
    }
    return s.parse ? s.parse(text, s.default as never) : (text as never);
  } catch (e) {
    throw new UsageError(`${s.env}: ${(e as Error).message}`);
  }
}

/**
 * The options a command-line run would have with only `given` set: `given`, else the table's variable in `env`
 * (parsed as the flag would be; a bad value is a UsageError naming it), else the default.
 */
export function resolveServeOptions(given: Partial<ServeOptions>, env: NodeJS.ProcessEnv = process.env): ServeOptions {
  const resolved: Partial<Record<keyof ServeOptions, unknown>> = {};
  for (const s of SERVE_TABLE) {
    const text = s.env !== undefined ? env[s.env] : undefined;
    if (given[s.key] !== undefined) resolved[s.key] = given[s.key];
    else if (text !== undefined) resolved[s.key] = fromEnv(s, text);
    else if (s.default !== undefined) resolved[s.key] = s.default;
  }
  return resolved as ServeOptions;
}
