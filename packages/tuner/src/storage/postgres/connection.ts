/**
 * Turns a `postgres://` storage URL into a pg pool plus the tuneserve options carried in its query
 * string (heartbeat timing), and wraps connection failures in an error that names the server but
 * never the password.
 */
import pg from 'pg';
import { StorageError } from '../../errors.js';

export interface PostgresUrlOptions {
  /** Seconds between heartbeats of a running trial. */
  heartbeatInterval: number;
  /** Seconds without a heartbeat after which a RUNNING trial is re-queued for another worker. */
  gracePeriod: number;
  /** Shared folder for trial checkpoints (every worker must see the same files). */
  checkpointDir?: string;
}

export const DEFAULT_URL_OPTIONS: PostgresUrlOptions = { heartbeatInterval: 10, gracePeriod: 60 };

/** The storage URL is invalid or the server cannot be reached. */
export class StorageConnectionError extends StorageError {
  override name = 'StorageConnectionError';
}

/** Query parameters of the storage URL that belong to tuneserve and must not reach libpq/pg. */
const OWN_PARAMS: Record<string, 'heartbeatInterval' | 'gracePeriod'> = {
  heartbeatInterval: 'heartbeatInterval',
  heartbeat_interval: 'heartbeatInterval',
  gracePeriod: 'gracePeriod',
  grace_period: 'gracePeriod',
};

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/** The URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparseable storage URL>';
  }
}

export function parsePostgresUrl(url: string): { connectionString: string; options: PostgresUrlOptions } {
  if (!isPostgresUrl(url)) {
    throw new StorageConnectionError(`not a PostgreSQL storage URL (expected postgres://...): ${redactUrl(url)}`);
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new StorageConnectionError(
      'the PostgreSQL storage URL cannot be parsed (expected postgres://user:pass@host:port/db)',
    );
  }
  const options = { ...DEFAULT_URL_OPTIONS };
  for (const [param, key] of Object.entries(OWN_PARAMS)) {
    const raw = parsed.searchParams.get(param);
    if (raw === null) continue;
    const value = Number(raw);
    if (!Number.isFinite(value) || value <= 0) {
      throw new StorageConnectionError(
        `storage URL parameter ${param} must be a positive number of seconds, got "${raw}"`,
      );
    }
    options[key] = value;
    parsed.searchParams.delete(param);
  }
  const checkpointDir = parsed.searchParams.get('checkpointDir') ?? parsed.searchParams.get('checkpoint_dir');
  if (checkpointDir !== null) {
    if (!checkpointDir) throw new StorageConnectionError('storage URL parameter checkpointDir must not be empty');
    options.checkpointDir = checkpointDir;
    parsed.searchParams.delete('checkpointDir');
    parsed.searchParams.delete('checkpoint_dir');
  }
  if (options.gracePeriod <= options.heartbeatInterval) {
    throw new StorageConnectionError(
      `gracePeriod (${options.gracePeriod}s) must exceed heartbeatInterval (${options.heartbeatInterval}s), or live trials would be re-queued`,
    );
  }
  return { connectionString: parsed.toString(), options };
}

export function createPool(connectionString: string, max = 3): pg.Pool {
  const pool = new pg.Pool({ connectionString, max, connectionTimeoutMillis: 10_000 });
  // An idle client losing its connection (server restart) must not crash the worker; the next
  // query reconnects or fails with a clear error instead.
  pool.on('error', () => undefined);
  return pool;
}

/** Checks out a client, turning "cannot connect" into a StorageConnectionError naming the server. */
export async function connect(pool: pg.Pool, url: string): Promise<pg.PoolClient> {
  try {
    return await pool.connect();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new StorageConnectionError(`cannot connect to PostgreSQL at ${redactUrl(url)}: ${reason}`);
  }
}
