/**
 * Turns a `postgres://` storage URL into a pg pool plus the tuneserve option carried in its query
 * string (`checkpointDir`), and wraps connection failures in an error that names the server but
 * never the password.
 */
import pg from 'pg';
import { StorageError } from '../../errors.js';

export interface PostgresUrlOptions {
  /** Shared folder for trial checkpoints (every worker must see the same files). */
  checkpointDir?: string;
}

/** The storage URL is invalid or the server cannot be reached. */
export class StorageConnectionError extends StorageError {
  override name = 'StorageConnectionError';
}

/** Query parameters of the storage URL that belong to tuneserve and must not reach pg. */
const CHECKPOINT_PARAMS = ['checkpointDir', 'checkpoint_dir'];

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/** Query parameters that carry a credential (libpq and pg accept `?password=`, `?sslpassword=`). */
const SECRET_PARAM = /pass|secret|token/i;

/** The URL without its password (user info or query string), for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    for (const key of [...u.searchParams.keys()]) if (SECRET_PARAM.test(key)) u.searchParams.set(key, '***');
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
  const options: PostgresUrlOptions = {};
  for (const param of CHECKPOINT_PARAMS) {
    const value = parsed.searchParams.get(param);
    if (value === null) continue;
    if (!value) throw new StorageConnectionError(`storage URL parameter ${param} must not be empty`);
    options.checkpointDir = value;
    parsed.searchParams.delete(param);
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
