/**
 * Retrying PostgreSQL operations through an outage. A worker whose database restarts (failover,
 * upgrade, crash) or whose statement hit the study's lock/statement timeout waits with exponential
 * back-off and tries again, up to a time budget, instead of dying and leaving its trial to the
 * heartbeat take-over. Only errors that say "try again" are retried; SQL errors are not.
 *
 * Safe to repeat: a failed transaction was rolled back, and the oracle's transactions re-read the
 * study before deciding (a repeated createTrial finds the trial it already claimed; a repeated
 * endTrial of a trial whose first COMMIT did land is refused as lost, keeping the stored result).
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface RetryPolicy {
  /** Give up after this long since the first failure (ms). */
  budgetMs: number;
  /** First wait (ms); doubled after each failure up to maxDelayMs, with jitter. */
  initialDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { budgetMs: 120_000, initialDelayMs: 100, maxDelayMs: 5_000 };

/** SQLSTATE classes and codes that mean "the server is (briefly) unavailable or the wait timed out". */
const RETRYABLE_CODES = new Set([
  '57P01', // admin_shutdown: the server is stopping (pg_ctl stop, restart)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: starting up or shutting down
  '55P03', // lock_not_available: lock_timeout expired while waiting for the study lock
  '57014', // query_canceled: statement_timeout expired
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '53300', // too_many_connections
]);

/** Socket-level failures: the server is down or the connection was cut. */
const RETRYABLE_SOCKET = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTCONN']);

/** Whether `error` (from pg or node's net) is worth retrying after a pause. */
export function isTransient(error: unknown): boolean {
  // Our own errors wrap pg's (StorageError, StorageConnectionError): look through the causes.
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (transientItself(e)) return true;
  }
  return false;
}

function transientItself(error: Error): boolean {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (RETRYABLE_CODES.has(code) || RETRYABLE_SOCKET.has(code)) return true;
    if (code.startsWith('08')) return true; // connection_exception class
  }
  // pg reports a dropped connection without a code.
  return /Connection terminated|connection timeout|Client has encountered a connection error|terminating connection/i.test(
    error.message,
  );
}

/**
 * Runs `op` until it succeeds, fails with a non-transient error, or the budget is spent (then the
 * last error is thrown). `onRetry` hears about each pause (for a log line).
 */
export async function withRetry<T>(
  op: () => Promise<T>,
  policy: RetryPolicy = DEFAULT_RETRY,
  onRetry?: (error: Error, attempt: number, delayMs: number) => void,
): Promise<T> {
  let firstFailure: number | undefined;
  let delay = policy.initialDelayMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await op();
    } catch (error) {
      if (!isTransient(error)) throw error;
      firstFailure ??= Date.now();
      if (Date.now() - firstFailure + delay > policy.budgetMs) throw error;
      const wait = Math.round(delay * (0.5 + Math.random() / 2));
      onRetry?.(error as Error, attempt, wait);
      await sleep(wait);
      delay = Math.min(policy.maxDelayMs, delay * 2);
    }
  }
}
