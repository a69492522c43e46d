/**
 * StudyStorage on PostgreSQL, so workers on any number of machines share one study (Optuna's
 * design: no chief process, the database is the only coordinator).
 *
 * - `transaction` holds a transaction-scoped advisory lock keyed by the project name. It works
 *   before the study row exists (the first workers race to create it) and serialises every oracle
 *   decision across processes, so a configuration is never handed out twice and maxTrials is exact.
 * - `heartbeat` only touches a trial still RUNNING for the same owner, so a late worker cannot
 *   revive a trial that was re-queued or finished elsewhere.
 * - Checkpoints stay files under `checkpointRoot` (see docs/distributed.md for why): a shared
 *   volume given by the URL parameter `checkpointDir`, else `<directory>/<projectName>`.
 * - Every operation, and every transaction as a whole, is retried with back-off through a server
 *   outage or a lock timeout (retry.ts), so a database restart pauses the workers instead of
 *   killing them. Session timeouts (connection.ts) keep a stuck worker from blocking the study.
 */
import path from 'node:path';
import type pg from 'pg';
import { StorageError } from '../../errors.js';
import { upgradeTrialRecord } from '../legacy.js';
import type { EpochMetric, StorageContext, StudyRecord, StudyStorage, StudyStore, TrialRecord } from '../types.js';
import { connect, createPool, parsePostgresUrl, redactUrl } from './connection.js';
import { migrate } from './migrations.js';
import { DEFAULT_RETRY, isTransient, type RetryPolicy, withRetry } from './retry.js';

type Queryable = Pick<pg.ClientBase, 'query'>;

interface StudyRow {
  name: string;
  tuner: string;
  objective: unknown;
  max_trials: number | null;
  space: unknown;
  oracle_state: unknown;
  created_at: number;
}

interface TrialRow {
  trial_id: string;
  seq: number;
  status: TrialRecord['status'];
  hp_values: unknown;
  hash: string;
  score: number | null;
  best_step: number | null;
  metrics: unknown;
  message: string | null;
  owner_id: string | null;
  heartbeat_at: number | null;
  started_at: number | null;
  ended_at: number | null;
  retries: number;
  user_data: unknown;
}

/**
 * JSON has no NaN/Infinity, but metrics may hold them (a diverged loss). They are stored as
 * `{"$num": "NaN"}`, the same convention as the SQLite backend, so a study reads back identically.
 */
function encodeJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    typeof v === 'number' && !Number.isFinite(v) ? { $num: String(v) } : v,
  );
}

function decodeJson<T>(value: unknown): T {
  const revive = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(revive);
    if (v && typeof v === 'object') {
      const entries = Object.entries(v);
      if (entries.length === 1 && entries[0]![0] === '$num' && typeof entries[0]![1] === 'string') {
        return Number(entries[0]![1]);
      }
      return Object.fromEntries(entries.map(([k, x]) => [k, revive(x)]));
    }
    return v;
  };
  return revive(value) as T;
}

const TRIAL_COLUMNS =
  'trial_id, seq, status, hp_values, hash, score, best_step, metrics, message, owner_id, heartbeat_at, started_at, ended_at, retries, user_data';

function toTrial(row: TrialRow): TrialRecord {
  return upgradeTrialRecord({
    trialId: row.trial_id,
    seq: row.seq,
    status: row.status,
    values: decodeJson(row.hp_values),
    hash: row.hash,
    score: row.score,
    bestStep: row.best_step,
    metrics: decodeJson(row.metrics),
    message: row.message,
    ownerId: row.owner_id,
    heartbeatAt: row.heartbeat_at,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    retries: row.retries,
    userData: decodeJson(row.user_data),
  });
}

/** The data operations, bound either to the pool (autocommit) or to one transaction's client. */
class PostgresStudyStore implements StudyStore {
  constructor(
    private readonly db: Queryable,
    private readonly study: string,
    private readonly location: string,
  ) {}

  /** Every database failure surfaces as a StorageError naming the study. */
  private async query<R extends pg.QueryResultRow>(sql: string, params: unknown[]): Promise<pg.QueryResult<R>> {
    try {
      return await this.db.query<R>(sql, params);
    } catch (error) {
      if (error instanceof StorageError) throw error;
      throw new StorageError(`Study database ${this.location}: ${(error as Error).message}`, { cause: error });
    }
  }

  async getStudy(): Promise<StudyRecord | undefined> {
    const { rows } = await this.query<StudyRow>(
      'SELECT name, tuner, objective, max_trials, space, oracle_state, created_at FROM tuneserve_studies WHERE project = $1',
      [this.study],
    );
    const row = rows[0];
    if (!row) return undefined;
    return {
      name: row.name,
      tuner: row.tuner,
      objective: decodeJson(row.objective),
      maxTrials: row.max_trials,
      space: decodeJson(row.space),
      oracleState: decodeJson(row.oracle_state),
      createdAt: row.created_at,
    };
  }

  async putStudy(study: StudyRecord): Promise<void> {
    await this.query(
      `INSERT INTO tuneserve_studies (project, name, tuner, objective, max_trials, space, oracle_state, created_at)
       VALUES ($8, $1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (project) DO UPDATE SET name = EXCLUDED.name, tuner = EXCLUDED.tuner, objective = EXCLUDED.objective,
         max_trials = EXCLUDED.max_trials, space = EXCLUDED.space, oracle_state = EXCLUDED.oracle_state`,
      [
        study.name,
        study.tuner,
        encodeJson(study.objective),
        study.maxTrials,
        encodeJson(study.space),
        encodeJson(study.oracleState),
        study.createdAt,
        this.study,
      ],
    );
  }

  async listTrials(): Promise<TrialRecord[]> {
    const { rows } = await this.query<TrialRow>(
      `SELECT ${TRIAL_COLUMNS} FROM tuneserve_trials WHERE study = $1 ORDER BY seq, trial_id`,
      [this.study],
    );
    return rows.map(toTrial);
  }

  async getTrial(trialId: string): Promise<TrialRecord | undefined> {
    const { rows } = await this.query<TrialRow>(
      `SELECT ${TRIAL_COLUMNS} FROM tuneserve_trials WHERE study = $1 AND trial_id = $2`,
      [this.study, trialId],
    );
    return rows[0] ? toTrial(rows[0]) : undefined;
  }

  async putTrial(t: TrialRecord): Promise<void> {
    await this.query(
      `INSERT INTO tuneserve_trials (study, ${TRIAL_COLUMNS})
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
       ON CONFLICT (study, trial_id) DO UPDATE SET seq = EXCLUDED.seq, status = EXCLUDED.status,
         hp_values = EXCLUDED.hp_values, hash = EXCLUDED.hash, score = EXCLUDED.score, best_step = EXCLUDED.best_step,
         metrics = EXCLUDED.metrics, message = EXCLUDED.message, owner_id = EXCLUDED.owner_id,
         heartbeat_at = EXCLUDED.heartbeat_at, started_at = EXCLUDED.started_at, ended_at = EXCLUDED.ended_at,
         retries = EXCLUDED.retries, user_data = EXCLUDED.user_data`,
      [
        this.study,
        t.trialId,
        t.seq,
        t.status,
        encodeJson(t.values),
        t.hash,
        t.score !== null && Number.isFinite(t.score) ? t.score : null,
        t.bestStep,
        encodeJson(t.metrics),
        t.message,
        t.ownerId,
        t.heartbeatAt,
        t.startedAt,
        t.endedAt,
        t.retries,
        encodeJson(t.userData),
      ],
    );
  }

  async putMetrics(rows: EpochMetric[]): Promise<void> {
    if (rows.length === 0) return;
    // One statement for the whole batch: unnest the columns as arrays.
    await this.query(
      `INSERT INTO tuneserve_epoch_metrics (study, trial_id, execution, step, name, value)
       SELECT $1, * FROM unnest($2::text[], $3::int[], $4::int[], $5::text[], $6::float8[])
       ON CONFLICT (study, trial_id, execution, step, name) DO UPDATE SET value = EXCLUDED.value`,
      [
        this.study,
        rows.map((r) => r.trialId),
        rows.map((r) => r.execution),
        rows.map((r) => r.step),
        rows.map((r) => r.name),
        rows.map((r) => r.value),
      ],
    );
  }

  async listMetrics(trialId?: string): Promise<EpochMetric[]> {
    const { rows } = await this.query<{
      trial_id: string;
      execution: number;
      step: number;
      name: string;
      value: number;
    }>(
      `SELECT trial_id, execution, step, name, value FROM tuneserve_epoch_metrics
       WHERE study = $1 AND ($2::text IS NULL OR trial_id = $2) ORDER BY trial_id, execution, step, name`,
      [this.study, trialId ?? null],
    );
    return rows.map((r) => ({
      trialId: r.trial_id,
      execution: r.execution,
      step: r.step,
      name: r.name,
      value: r.value,
    }));
  }

  async deleteMetrics(trialId: string): Promise<void> {
    await this.query('DELETE FROM tuneserve_epoch_metrics WHERE study = $1 AND trial_id = $2', [this.study, trialId]);
  }

  async heartbeat(trialId: string, ownerId: string, at: number): Promise<void> {
    await this.query(
      `UPDATE tuneserve_trials SET heartbeat_at = $4
       WHERE study = $1 AND trial_id = $2 AND owner_id = $3 AND status = 'RUNNING'`,
      [this.study, trialId, ownerId, at],
    );
  }
}

/** Read-only view of a database where tuneserve never created its tables: an empty study. */
class AbsentStudyStore implements StudyStore {
  async getStudy() {
    return undefined;
  }
  async listTrials() {
    return [];
  }
  async getTrial() {
    return undefined;
  }
  async listMetrics() {
    return [];
  }
  private refuse(): never {
    throw new StorageError('this PostgreSQL study was opened read-only');
  }
  async putStudy() {
    this.refuse();
  }
  async putTrial() {
    this.refuse();
  }
  async putMetrics() {
    this.refuse();
  }
  async deleteMetrics() {
    this.refuse();
  }
  async heartbeat() {
    this.refuse();
  }
}

export class PostgresStudyStorage implements StudyStorage {
  private closed = false;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly store: StudyStore,
    private readonly study: string,
    readonly location: string,
    readonly checkpointRoot: string,
    private readonly readOnly: boolean,
    private readonly retryPolicy: RetryPolicy,
  ) {}

  /** Connects, migrates the schema (unless read-only) and applies `overwrite`; waits out an outage. */
  static async open(url: string, context: StorageContext): Promise<PostgresStudyStorage> {
    const { connectionString, options } = parsePostgresUrl(url);
    const location = `${redactUrl(url)}#${context.projectName}`;
    const checkpointRoot = path.resolve(options.checkpointDir ?? path.join(context.directory, context.projectName));
    const policy = { ...DEFAULT_RETRY, ...(options.retryBudgetMs ? { budgetMs: options.retryBudgetMs } : {}) };
    const pool = createPool(connectionString, options);
    const make = (store: StudyStore, readOnly: boolean) =>
      new PostgresStudyStorage(pool, store, context.projectName, location, checkpointRoot, readOnly, policy);
    try {
      const storage = await retrying(policy, location, async () => {
        const client = await connect(pool, url);
        let broken: Error | undefined;
        try {
          if (context.readOnly) {
            const { rows } = await client.query<{ present: boolean }>(
              "SELECT to_regclass('tuneserve_trials') IS NOT NULL AS present",
            );
            const store = rows[0]?.present
              ? new PostgresStudyStore(pool, context.projectName, location)
              : new AbsentStudyStore();
            return make(store, true);
          }
          await migrate(client);
          return make(new PostgresStudyStore(pool, context.projectName, location), false);
        } catch (error) {
          if (isTransient(error)) broken = error as Error;
          throw error;
        } finally {
          client.release(broken);
        }
      });
      if (context.overwrite) await storage.deleteStudy();
      return storage;
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw error;
    }
  }

  private retry<T>(op: () => Promise<T>): Promise<T> {
    return retrying(this.retryPolicy, this.location, op);
  }

  getStudy() {
    return this.retry(() => this.store.getStudy());
  }
  putStudy(study: StudyRecord) {
    return this.retry(() => this.store.putStudy(study));
  }
  listTrials() {
    return this.retry(() => this.store.listTrials());
  }
  getTrial(trialId: string) {
    return this.retry(() => this.store.getTrial(trialId));
  }
  putTrial(trial: TrialRecord) {
    return this.retry(() => this.store.putTrial(trial));
  }
  putMetrics(rows: EpochMetric[]) {
    return this.retry(() => this.store.putMetrics(rows));
  }
  listMetrics(trialId?: string) {
    return this.retry(() => this.store.listMetrics(trialId));
  }
  deleteMetrics(trialId: string) {
    return this.retry(() => this.store.deleteMetrics(trialId));
  }
  heartbeat(trialId: string, ownerId: string, at: number) {
    return this.retry(() => this.store.heartbeat(trialId, ownerId, at));
  }

  /** The whole transaction is repeated after a transient failure (it was rolled back). */
  async transaction<T>(fn: (tx: StudyStore) => Promise<T>): Promise<T> {
    if (this.readOnly) throw new StorageError(`The study at ${this.location} was opened read-only.`);
    return this.retry(() => this.locked((client) => fn(new PostgresStudyStore(client, this.study, this.location))));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  /** One attempt: BEGIN, take the study's advisory lock, run fn on the client, COMMIT. */
  private async locked<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await connect(this.pool, this.location);
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      // hashtext maps the project to the lock key; a collision only serialises two studies.
      await client.query("SELECT pg_advisory_xact_lock(hashtext('tuneserve-study:' || $1))", [this.study]);
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      // A connection that failed is not given back to the pool.
      if (isTransient(error)) broken = error as Error;
      throw error;
    } finally {
      client.release(broken);
    }
  }

  /** Removes the study's rows (overwrite: true). Never let more than one worker of a search do this. */
  private async deleteStudy(): Promise<void> {
    await this.retry(() =>
      this.locked(async (client) => {
        await client.query('DELETE FROM tuneserve_epoch_metrics WHERE study = $1', [this.study]);
        await client.query('DELETE FROM tuneserve_trials WHERE study = $1', [this.study]);
        await client.query('DELETE FROM tuneserve_studies WHERE project = $1', [this.study]);
      }),
    );
  }
}

/** Runs `op` with the retry policy, logging each pause on stderr (a worker's log) once per few attempts. */
function retrying<T>(policy: RetryPolicy, location: string, op: () => Promise<T>): Promise<T> {
  return withRetry(op, policy, (error, attempt, delayMs) => {
    if (attempt === 1 || attempt % 5 === 0) {
      const reason = (error.cause instanceof Error ? error.cause : error).message;
      process.stderr.write(
        `tuneserve: PostgreSQL unavailable at ${location} (${reason}); retrying in ${delayMs} ms (attempt ${attempt})\n`,
      );
    }
  });
}

/** The `StorageFactory` for postgres:// and postgresql:// URLs. */
export function openPostgresStorage(url: string, context: StorageContext): Promise<StudyStorage> {
  return PostgresStudyStorage.open(url, context);
}
