/**
 * The PostgreSQL side of distributed tuning: one study is a row, its trials are rows, and every
 * worker coordinates only through them (Optuna's design; there is no chief process).
 *
 * - Trial hand-out runs in one transaction holding the study row lock (`SELECT ... FOR UPDATE`), so
 *   the oracle's decision and the insert of the new trial are atomic across all workers: no
 *   configuration is handed out twice and `maxTrials` is exact.
 * - Each claim of a trial bumps its `attempt` number. Every write a worker makes about a trial
 *   (heartbeat, progress, checkpoint, result) is conditioned on that attempt and on the trial still
 *   RUNNING; a worker whose trial was re-queued gets `LeaseLostError` and cannot overwrite anything.
 * - Staleness is judged with the database clock (`now()`), so clock skew between machines is moot.
 */
import type pg from 'pg';
import { connect, createPool, type PostgresUrlOptions, parsePostgresUrl, redactUrl } from './connection.js';
import { migrate } from './migrations.js';

export type HpValue = number | string | boolean;

/** QUEUED is a trial waiting to be (re)claimed, e.g. after its worker stopped heartbeating. */
export type StoredStatus = 'RUNNING' | 'QUEUED' | 'COMPLETED' | 'FAILED' | 'PRUNED' | 'INVALID' | (string & {});

export interface StoredTrial {
  trialId: string;
  seq: number;
  status: StoredStatus;
  hyperparameters: Record<string, HpValue>;
  valuesHash: string | null;
  score: number | null;
  bestStep: number | null;
  metrics: Record<string, { step: number; value: number }[]>;
  /** Free-form per-trial data owned by the tuner (e.g. Hyperband bracket, retry count). */
  data: Record<string, unknown>;
  message: string | null;
  attempt: number;
  workerId: string | null;
  heartbeatAt: Date | null;
  startedAt: Date | null;
  endedAt: Date | null;
}

/** The right to write one attempt of one trial. */
export interface Lease {
  trialId: string;
  attempt: number;
  workerId: string;
}

export interface Checkpoint {
  epoch: number;
  attempt: number;
  files: Record<string, Uint8Array>;
}

/** What the oracle sees while the study is locked. */
export interface LockedStudy {
  config: Record<string, unknown>;
  oracleState: Record<string, unknown>;
  trials: StoredTrial[];
}

export type Decision =
  | {
      kind: 'new';
      trialId?: string;
      hyperparameters: Record<string, HpValue>;
      valuesHash?: string;
      data?: Record<string, unknown>;
      oracleState?: Record<string, unknown>;
    }
  | { kind: 'idle'; oracleState?: Record<string, unknown> }
  | { kind: 'stopped'; oracleState?: Record<string, unknown> };

export type Claim =
  | { kind: 'trial'; lease: Lease; trial: StoredTrial; resumed: boolean }
  | { kind: 'idle' }
  | { kind: 'stopped' };

export interface TrialResult {
  status: 'COMPLETED' | 'FAILED' | 'PRUNED' | 'INVALID';
  score?: number | null;
  bestStep?: number | null;
  metrics?: StoredTrial['metrics'];
  data?: Record<string, unknown>;
  message?: string | null;
}

export class LeaseLostError extends Error {
  override name = 'LeaseLostError';
  constructor(readonly lease: Lease) {
    super(
      `trial ${lease.trialId} attempt ${lease.attempt} no longer belongs to worker ${lease.workerId} ` +
        '(it was re-queued after missed heartbeats, or finished by another worker); its result is discarded',
    );
  }
}

export class StudyNotFoundError extends Error {
  override name = 'StudyNotFoundError';
}

interface TrialRow {
  trial_id: string;
  seq: number;
  status: string;
  hyperparameters: Record<string, HpValue>;
  values_hash: string | null;
  score: number | null;
  best_step: number | null;
  metrics: StoredTrial['metrics'];
  data: Record<string, unknown>;
  message: string | null;
  attempt: number;
  worker_id: string | null;
  heartbeat_at: Date | null;
  started_at: Date | null;
  ended_at: Date | null;
}

const TRIAL_COLUMNS = `trial_id, seq, status, hyperparameters, values_hash, score, best_step, metrics, data, message,
  attempt, worker_id, heartbeat_at, started_at, ended_at`;

function toTrial(row: TrialRow): StoredTrial {
  return {
    trialId: row.trial_id,
    seq: row.seq,
    status: row.status,
    hyperparameters: row.hyperparameters,
    valuesHash: row.values_hash,
    score: row.score,
    bestStep: row.best_step,
    metrics: row.metrics,
    data: row.data,
    message: row.message,
    attempt: row.attempt,
    workerId: row.worker_id,
    heartbeatAt: row.heartbeat_at,
    startedAt: row.started_at,
    endedAt: row.ended_at,
  };
}

/** A JSON number column may not hold NaN/Infinity; the result keeps them out of `score`. */
function finiteOrNull(value: number | null | undefined): number | null {
  return value === undefined || value === null || !Number.isFinite(value) ? null : value;
}

export interface OpenStudyOptions {
  url: string;
  studyName: string;
  /** Stored on creation; later openers receive the stored config. */
  config?: Record<string, unknown>;
  /** Delete an existing study of that name first. Never do this from more than one worker. */
  overwrite?: boolean;
  /** Fail instead of creating the study (read-only consumers: `trials`, the dashboard). */
  mustExist?: boolean;
  /** Override the heartbeat timing given in the URL (seconds). */
  heartbeatInterval?: number;
  gracePeriod?: number;
}

export class PostgresStudyStore {
  private constructor(
    private readonly pool: pg.Pool,
    private readonly url: string,
    readonly studyId: string,
    readonly studyName: string,
    readonly config: Record<string, unknown>,
    readonly timing: PostgresUrlOptions,
  ) {}

  /** Connects, migrates the schema, and creates or loads the study (safe under concurrency). */
  static async open(options: OpenStudyOptions): Promise<PostgresStudyStore> {
    const { connectionString, options: fromUrl } = parsePostgresUrl(options.url);
    const timing: PostgresUrlOptions = {
      heartbeatInterval: options.heartbeatInterval ?? fromUrl.heartbeatInterval,
      gracePeriod: options.gracePeriod ?? fromUrl.gracePeriod,
    };
    const pool = createPool(connectionString);
    try {
      const client = await connect(pool, options.url);
      try {
        await migrate(client);
        if (options.overwrite) {
          await client.query('DELETE FROM tuneserve_studies WHERE name = $1', [options.studyName]);
        }
        if (!options.mustExist) {
          await client.query(
            'INSERT INTO tuneserve_studies (name, config) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING',
            [options.studyName, JSON.stringify(options.config ?? {})],
          );
        }
        const { rows } = await client.query<{ id: string; config: Record<string, unknown> }>(
          'SELECT id, config FROM tuneserve_studies WHERE name = $1',
          [options.studyName],
        );
        const row = rows[0];
        if (!row) {
          throw new StudyNotFoundError(`no study named "${options.studyName}" in ${redactUrl(options.url)}`);
        }
        return new PostgresStudyStore(pool, options.url, row.id, options.studyName, row.config, timing);
      } finally {
        client.release();
      }
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  /** Runs `fn` in a transaction holding this study's row lock. */
  async withStudyLock<T>(
    fn: (client: pg.PoolClient, locked: { oracleState: Record<string, unknown> }) => Promise<T>,
  ): Promise<T> {
    const client = await connect(this.pool, this.url);
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<{ oracle_state: Record<string, unknown> }>(
        'SELECT oracle_state FROM tuneserve_studies WHERE id = $1 FOR UPDATE',
        [this.studyId],
      );
      if (!rows[0]) throw new StudyNotFoundError(`study "${this.studyName}" was deleted while in use`);
      const result = await fn(client, { oracleState: rows[0].oracle_state });
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /**
   * Hands out a trial to `workerId`: first re-queues stale trials, then resumes a queued trial if
   * there is one, otherwise asks `decide` (the oracle) for a new one from the locked shared state.
   * A 'stopped' decision becomes 'idle' while other workers still run trials, because one of them
   * may die and its trial will need a new home.
   */
  async claimTrial(workerId: string, decide: (study: LockedStudy) => Decision | Promise<Decision>): Promise<Claim> {
    return this.withStudyLock(async (client, locked) => {
      await this.requeueStale(client);
      const queued = await client.query<TrialRow>(
        `UPDATE tuneserve_trials SET status = 'RUNNING', attempt = attempt + 1, worker_id = $2,
           heartbeat_at = now(), started_at = COALESCE(started_at, now())
         WHERE study_id = $1 AND trial_id = (
           SELECT trial_id FROM tuneserve_trials WHERE study_id = $1 AND status = 'QUEUED' ORDER BY seq LIMIT 1)
         RETURNING ${TRIAL_COLUMNS}`,
        [this.studyId, workerId],
      );
      if (queued.rows[0]) {
        const trial = toTrial(queued.rows[0]);
        return {
          kind: 'trial',
          lease: { trialId: trial.trialId, attempt: trial.attempt, workerId },
          trial,
          resumed: true,
        };
      }
      const trials = await this.selectTrials(client);
      const decision = await decide({ config: this.config, oracleState: locked.oracleState, trials });
      if (decision.oracleState) {
        await client.query('UPDATE tuneserve_studies SET oracle_state = $2, updated_at = now() WHERE id = $1', [
          this.studyId,
          JSON.stringify(decision.oracleState),
        ]);
      }
      if (decision.kind === 'idle') return { kind: 'idle' };
      if (decision.kind === 'stopped') {
        return trials.some((t) => t.status === 'RUNNING') ? { kind: 'idle' } : { kind: 'stopped' };
      }
      const seq = trials.reduce((max, t) => Math.max(max, t.seq), -1) + 1;
      const trialId = decision.trialId ?? String(seq);
      const inserted = await client.query<TrialRow>(
        `INSERT INTO tuneserve_trials (study_id, trial_id, seq, status, hyperparameters, values_hash, data, attempt,
           worker_id, heartbeat_at, started_at)
         VALUES ($1, $2, $3, 'RUNNING', $4, $5, $6, 1, $7, now(), now())
         RETURNING ${TRIAL_COLUMNS}`,
        [
          this.studyId,
          trialId,
          seq,
          JSON.stringify(decision.hyperparameters),
          decision.valuesHash ?? null,
          JSON.stringify(decision.data ?? {}),
          workerId,
        ],
      );
      const trial = toTrial(inserted.rows[0]!);
      return { kind: 'trial', lease: { trialId, attempt: 1, workerId }, trial, resumed: false };
    });
  }

  /** Re-queues RUNNING trials whose heartbeat is older than the grace period; returns their ids. */
  async requeueStale(client?: pg.ClientBase): Promise<string[]> {
    const run = async (c: pg.ClientBase) => {
      const { rows } = await c.query<{ trial_id: string; attempt: number; worker_id: string | null }>(
        `WITH stale AS (
           SELECT trial_id, attempt, worker_id FROM tuneserve_trials
           WHERE study_id = $1 AND status = 'RUNNING' AND heartbeat_at < now() - make_interval(secs => $2)
           FOR UPDATE)
         UPDATE tuneserve_trials t SET status = 'QUEUED', worker_id = NULL
         FROM stale WHERE t.study_id = $1 AND t.trial_id = stale.trial_id
         RETURNING stale.trial_id, stale.attempt, stale.worker_id`,
        [this.studyId, this.timing.gracePeriod],
      );
      for (const r of rows) {
        await c.query(
          `INSERT INTO tuneserve_trial_attempts (study_id, trial_id, attempt, worker_id, outcome)
           VALUES ($1, $2, $3, $4, 'STALE') ON CONFLICT DO NOTHING`,
          [this.studyId, r.trial_id, r.attempt, r.worker_id],
        );
      }
      return rows.map((r) => r.trial_id);
    };
    if (client) return run(client);
    return this.withStudyLock((c) => run(c));
  }

  /** Extends the lease; throws LeaseLostError when the trial was taken away. */
  async heartbeat(lease: Lease): Promise<void> {
    const { rowCount } = await this.pool.query(
      `UPDATE tuneserve_trials SET heartbeat_at = now()
       WHERE study_id = $1 AND trial_id = $2 AND attempt = $3 AND status = 'RUNNING'`,
      [this.studyId, lease.trialId, lease.attempt],
    );
    if (rowCount !== 1) throw new LeaseLostError(lease);
  }

  /** Records intermediate results of a running trial (per-epoch metrics, tuner data). */
  async updateRunning(
    lease: Lease,
    patch: {
      metrics?: StoredTrial['metrics'];
      data?: Record<string, unknown>;
      score?: number | null;
      bestStep?: number | null;
    },
  ): Promise<void> {
    const { rowCount } = await this.pool.query(
      `UPDATE tuneserve_trials SET heartbeat_at = now(),
         metrics = COALESCE($4::jsonb, metrics), data = COALESCE($5::jsonb, data),
         score = CASE WHEN $6::boolean THEN $7 ELSE score END,
         best_step = CASE WHEN $8::boolean THEN $9 ELSE best_step END
       WHERE study_id = $1 AND trial_id = $2 AND attempt = $3 AND status = 'RUNNING'`,
      [
        this.studyId,
        lease.trialId,
        lease.attempt,
        patch.metrics ? JSON.stringify(patch.metrics) : null,
        patch.data ? JSON.stringify(patch.data) : null,
        patch.score !== undefined,
        finiteOrNull(patch.score),
        patch.bestStep !== undefined,
        patch.bestStep ?? null,
      ],
    );
    if (rowCount !== 1) throw new LeaseLostError(lease);
  }

  /** Ends the trial with its result; fenced by the lease's attempt number. */
  async finishTrial(lease: Lease, result: TrialResult): Promise<StoredTrial> {
    return this.withStudyLock(async (client) => {
      const { rows } = await client.query<TrialRow>(
        `UPDATE tuneserve_trials SET status = $4, score = $5, best_step = $6,
           metrics = COALESCE($7::jsonb, metrics), data = COALESCE($8::jsonb, data), message = $9,
           ended_at = now(), heartbeat_at = now()
         WHERE study_id = $1 AND trial_id = $2 AND attempt = $3 AND status = 'RUNNING'
         RETURNING ${TRIAL_COLUMNS}`,
        [
          this.studyId,
          lease.trialId,
          lease.attempt,
          result.status,
          finiteOrNull(result.score),
          result.bestStep ?? null,
          result.metrics ? JSON.stringify(result.metrics) : null,
          result.data ? JSON.stringify(result.data) : null,
          result.message ?? null,
        ],
      );
      if (!rows[0]) throw new LeaseLostError(lease);
      await client.query(
        `INSERT INTO tuneserve_trial_attempts (study_id, trial_id, attempt, worker_id, outcome)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
        [this.studyId, lease.trialId, lease.attempt, lease.workerId, result.status],
      );
      return toTrial(rows[0]);
    });
  }

  /** Puts a trial back in the queue (e.g. a retry after failure, or a worker shutting down cleanly). */
  async releaseTrial(lease: Lease, outcome = 'RELEASED'): Promise<void> {
    await this.withStudyLock(async (client) => {
      const { rowCount } = await client.query(
        `UPDATE tuneserve_trials SET status = 'QUEUED', worker_id = NULL
         WHERE study_id = $1 AND trial_id = $2 AND attempt = $3 AND status = 'RUNNING'`,
        [this.studyId, lease.trialId, lease.attempt],
      );
      if (rowCount !== 1) throw new LeaseLostError(lease);
      await client.query(
        `INSERT INTO tuneserve_trial_attempts (study_id, trial_id, attempt, worker_id, outcome)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
        [this.studyId, lease.trialId, lease.attempt, lease.workerId, outcome],
      );
    });
  }

  /**
   * Stores a checkpoint of a running trial (`kind` e.g. 'last' for resume, 'best' for getBestModels).
   * Fenced: a worker that lost its lease cannot replace the checkpoint of the new attempt.
   */
  async saveCheckpoint(lease: Lease, kind: string, epoch: number, files: Record<string, Uint8Array>): Promise<void> {
    const manifest = Object.entries(files).map(([name, bytes]) => ({ name, length: bytes.byteLength }));
    const blob = Buffer.concat(Object.values(files).map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength)));
    const { rowCount } = await this.pool.query(
      `INSERT INTO tuneserve_checkpoints (study_id, trial_id, kind, epoch, attempt, files, blob)
       SELECT $1, $2, $4, $5, $3, $6, $7 FROM tuneserve_trials
       WHERE study_id = $1 AND trial_id = $2 AND attempt = $3 AND status = 'RUNNING'
       ON CONFLICT (study_id, trial_id, kind) DO UPDATE
         SET epoch = EXCLUDED.epoch, attempt = EXCLUDED.attempt, files = EXCLUDED.files, blob = EXCLUDED.blob,
             updated_at = now()`,
      [this.studyId, lease.trialId, lease.attempt, kind, epoch, JSON.stringify(manifest), blob],
    );
    if (rowCount !== 1) throw new LeaseLostError(lease);
  }

  async loadCheckpoint(trialId: string, kind: string): Promise<Checkpoint | undefined> {
    const { rows } = await this.pool.query<{
      epoch: number;
      attempt: number;
      files: { name: string; length: number }[];
      blob: Buffer;
    }>(
      'SELECT epoch, attempt, files, blob FROM tuneserve_checkpoints WHERE study_id = $1 AND trial_id = $2 AND kind = $3',
      [this.studyId, trialId, kind],
    );
    const row = rows[0];
    if (!row) return undefined;
    const files: Record<string, Uint8Array> = {};
    let offset = 0;
    for (const f of row.files) {
      files[f.name] = new Uint8Array(row.blob.subarray(offset, offset + f.length));
      offset += f.length;
    }
    return { epoch: row.epoch, attempt: row.attempt, files };
  }

  async listTrials(): Promise<StoredTrial[]> {
    return this.selectTrials(this.pool);
  }

  async getTrial(trialId: string): Promise<StoredTrial | undefined> {
    const { rows } = await this.pool.query<TrialRow>(
      `SELECT ${TRIAL_COLUMNS} FROM tuneserve_trials WHERE study_id = $1 AND trial_id = $2`,
      [this.studyId, trialId],
    );
    return rows[0] ? toTrial(rows[0]) : undefined;
  }

  async oracleState(): Promise<Record<string, unknown>> {
    const { rows } = await this.pool.query<{ oracle_state: Record<string, unknown> }>(
      'SELECT oracle_state FROM tuneserve_studies WHERE id = $1',
      [this.studyId],
    );
    return rows[0]?.oracle_state ?? {};
  }

  /** Attempt history: which worker ran which attempt and how it ended (STALE, COMPLETED, ...). */
  async attempts(
    trialId?: string,
  ): Promise<{ trialId: string; attempt: number; workerId: string | null; outcome: string }[]> {
    const { rows } = await this.pool.query<{
      trial_id: string;
      attempt: number;
      worker_id: string | null;
      outcome: string;
    }>(
      `SELECT trial_id, attempt, worker_id, outcome FROM tuneserve_trial_attempts
       WHERE study_id = $1 AND ($2::text IS NULL OR trial_id = $2) ORDER BY at, trial_id, attempt`,
      [this.studyId, trialId ?? null],
    );
    return rows.map((r) => ({ trialId: r.trial_id, attempt: r.attempt, workerId: r.worker_id, outcome: r.outcome }));
  }

  private async selectTrials(client: pg.ClientBase | pg.Pool): Promise<StoredTrial[]> {
    const { rows } = await client.query<TrialRow>(
      `SELECT ${TRIAL_COLUMNS} FROM tuneserve_trials WHERE study_id = $1 ORDER BY seq`,
      [this.studyId],
    );
    return rows.map(toTrial);
  }
}
