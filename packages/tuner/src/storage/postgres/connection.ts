/**
 * Turns a `postgres://` storage URL into a pg pool plus the tuneserve options carried in its query
 * string (`checkpointDir`, the session timeouts and the retry budget), and wraps connection
 * failures in an error that names the server but never the password.
 *
 * Every session gets `lock_timeout` (a worker waiting for the study lock gives up and retries
 * instead of queueing forever), `statement_timeout` (no statement runs unbounded) and
 * `idle_in_transaction_session_timeout` (a worker frozen or partitioned inside a transaction has
 * its session ended by the server, which releases the study lock for the others).
 */
import { parseInteger } from '@tuneserve/runtime';
import pg from 'pg';
import { StorageError } from '../../errors.js';

export interface PostgresUrlOptions {
  /** Shared folder for trial checkpoints (every worker must see the same files). */
  checkpointDir?: string;
  /** Session timeouts in ms (URL parameters lockTimeout, statementTimeout, idleInTransactionTimeout). */
  lockTimeoutMs?: number;
  statementTimeoutMs?: number;
  idleInTransactionTimeoutMs?: number;
  /** How long an operation keeps retrying through an outage, in ms (URL parameter retryBudget). */
  retryBudgetMs?: number;
}

/** Defaults: the study lock is held for milliseconds; a statement or idle transaction never needs a minute. */
export const DEFAULT_TIMEOUTS = {
  lockTimeoutMs: 30_000,
  statementTimeoutMs: 60_000,
  idleInTransactionTimeoutMs: 60_000,
};

/** URL parameter -> option, each a duration in milliseconds. */
const DURATION_PARAMS: Record<
  string,
  'lockTimeoutMs' | 'statementTimeoutMs' | 'idleInTransactionTimeoutMs' | 'retryBudgetMs'
> = {
  lockTimeout: 'lockTimeoutMs',
  statementTimeout: 'statementTimeoutMs',
  idleInTransactionTimeout: 'idleInTransactionTimeoutMs',
  retryBudget: 'retryBudgetMs',
};

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
  for (const [param, key] of Object.entries(DURATION_PARAMS)) {
    const value = parsed.searchParams.get(param);
    if (value === null) continue;
    const ms = parseInteger(value, 1);
    if (ms === undefined) {
      throw new StorageConnectionError(
        `storage URL parameter ${param} must be a positive number of milliseconds, got '${value}'`,
      );
    }
    options[key] = ms;
    parsed.searchParams.delete(param);
  }
  return { connectionString: parsed.toString(), options };
}

export function createPool(connectionString: string, options: PostgresUrlOptions, max = 3): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max,
    connectionTimeoutMillis: 10_000,
    lock_timeout: options.lockTimeoutMs ?? DEFAULT_TIMEOUTS.lockTimeoutMs,
    statement_timeout: options.statementTimeoutMs ?? DEFAULT_TIMEOUTS.statementTimeoutMs,
    idle_in_transaction_session_timeout:
      options.idleInTransactionTimeoutMs ?? DEFAULT_TIMEOUTS.idleInTransactionTimeoutMs,
  });
  // An idle client losing its connection (server restart) must not crash the worker; the next
  // query reconnects or fails with a clear error instead.
  pool.on('error', () => undefined);
  return pool;
}

/** Clients that already have the listener below (pool clients are reused). */
const guarded = new WeakSet<pg.PoolClient>();

/** Checks out a client, turning "cannot connect" into a StorageConnectionError naming the server. */
export async function connect(pool: pg.Pool, url: string): Promise<pg.PoolClient> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new StorageConnectionError(`cannot connect to PostgreSQL at ${redactUrl(url)}: ${reason}`, { cause: error });
  }
  // The server may end a checked-out session between two queries (shutdown, idle-in-transaction
  // timeout). pg then emits 'error' on the client, which would crash the process without a
  // listener; the next query on it fails instead, and that failure is retried.
  if (!guarded.has(client)) {
    client.on('error', () => undefined);
    guarded.add(client);
  }
  return client;
}
