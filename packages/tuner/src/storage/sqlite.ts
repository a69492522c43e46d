/**
 * SQLite study storage (better-sqlite3 12) at <directory>/<projectName>/study.db. WAL mode lets
 * readers (the dashboard) run beside writers; `transaction` uses BEGIN IMMEDIATE so only one
 * process at a time decides on trials, with a busy timeout instead of an error when another holds it.
 */
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { StorageError } from '../errors.js';
import { upgradeTrialRecord } from './legacy.js';
import type { EpochMetric, StorageContext, StudyRecord, StudyStorage, StudyStore, TrialRecord } from './types.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS study (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  name TEXT NOT NULL, tuner TEXT NOT NULL, objective TEXT NOT NULL, max_trials INTEGER,
  space TEXT NOT NULL, oracle_state TEXT NOT NULL, created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS trials (
  trial_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, status TEXT NOT NULL, hp_values TEXT NOT NULL,
  hash TEXT NOT NULL, score REAL, best_step INTEGER, metrics TEXT NOT NULL, message TEXT,
  owner_id TEXT, heartbeat_at INTEGER, started_at INTEGER, ended_at INTEGER,
  retries INTEGER NOT NULL, user_data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS epoch_metrics (
  trial_id TEXT NOT NULL, execution INTEGER NOT NULL, step INTEGER NOT NULL, name TEXT NOT NULL,
  value REAL, PRIMARY KEY (trial_id, execution, step, name)
);
`;

interface TrialRow {
  trial_id: string;
  seq: number;
  status: string;
  hp_values: string;
  hash: string;
  score: number | null;
  best_step: number | null;
  metrics: string;
  message: string | null;
  owner_id: string | null;
  heartbeat_at: number | null;
  started_at: number | null;
  ended_at: number | null;
  retries: number;
  user_data: string;
}

interface StudyRow {
  name: string;
  tuner: string;
  objective: string;
  max_trials: number | null;
  space: string;
  oracle_state: string;
  created_at: number;
}

// JSON has no NaN/Infinity; metrics may contain them (a diverged loss), so encode them as strings.
function encode(value: unknown): string {
  return JSON.stringify(value, (_k, v) =>
    typeof v === 'number' && !Number.isFinite(v) ? { $num: String(v) } : (v as unknown),
  );
}

function decode<T>(text: string): T {
  return JSON.parse(text, (_k, v) =>
    v && typeof v === 'object' && '$num' in v && Object.keys(v).length === 1 ? Number((v as { $num: string }).$num) : v,
  ) as T;
}

function toRecord(r: TrialRow): TrialRecord {
  return upgradeTrialRecord({
    trialId: r.trial_id,
    seq: r.seq,
    status: r.status as TrialRecord['status'],
    values: decode(r.hp_values),
    hash: r.hash,
    score: r.score,
    bestStep: r.best_step,
    metrics: decode(r.metrics),
    message: r.message,
    ownerId: r.owner_id,
    heartbeatAt: r.heartbeat_at,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    retries: r.retries,
    userData: decode(r.user_data),
  });
}

/** A tiny FIFO mutex: one transaction at a time on this connection. */
class Mutex {
  private tail: Promise<void> = Promise.resolve();
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const previous = this.tail;
    let release!: () => void;
    this.tail = new Promise((resolve) => {
      release = resolve;
    });
    await previous;
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

// One mutex per database file, shared by every connection of this process: a second connection's
// BEGIN IMMEDIATE would otherwise block the event loop while the first awaits inside its transaction.
const fileMutexes = new Map<string, Mutex>();

export class SqliteStudyStorage implements StudyStorage {
  readonly location: string;
  readonly checkpointRoot: string;
  private readonly db: Database.Database;
  private readonly mutex: Mutex;
  private readonly readOnly: boolean;

  constructor(file: string, checkpointRoot: string, readOnly = false) {
    this.location = file;
    this.checkpointRoot = checkpointRoot;
    this.readOnly = readOnly;
    const mutex = fileMutexes.get(file) ?? new Mutex();
    fileMutexes.set(file, mutex);
    this.mutex = mutex;
    try {
      this.db = new Database(file, readOnly ? { readonly: true, fileMustExist: true } : {});
      this.db.pragma('busy_timeout = 30000');
      if (!readOnly) {
        this.db.pragma('journal_mode = WAL');
        this.db.pragma('synchronous = NORMAL');
        this.db.exec(SCHEMA);
      }
    } catch (err) {
      throw new StorageError(`Cannot open the study database ${file}: ${(err as Error).message}`);
    }
  }

  async getStudy(): Promise<StudyRecord | undefined> {
    const row = this.guard(() => this.db.prepare('SELECT * FROM study WHERE id = 1').get() as StudyRow | undefined);
    if (!row) return undefined;
    return {
      name: row.name,
      tuner: row.tuner,
      objective: decode(row.objective),
      maxTrials: row.max_trials,
      space: decode(row.space),
      oracleState: decode(row.oracle_state),
      createdAt: row.created_at,
    };
  }

  private async rawPutStudy(s: StudyRecord): Promise<void> {
    this.guard(() =>
      this.db
        .prepare(
          `INSERT INTO study (id, name, tuner, objective, max_trials, space, oracle_state, created_at)
           VALUES (1, @name, @tuner, @objective, @maxTrials, @space, @oracleState, @createdAt)
           ON CONFLICT(id) DO UPDATE SET name = excluded.name, tuner = excluded.tuner,
             objective = excluded.objective, max_trials = excluded.max_trials, space = excluded.space,
             oracle_state = excluded.oracle_state`,
        )
        .run({
          name: s.name,
          tuner: s.tuner,
          objective: encode(s.objective),
          maxTrials: s.maxTrials,
          space: encode(s.space),
          oracleState: encode(s.oracleState),
          createdAt: s.createdAt,
        }),
    );
  }

  async listTrials(): Promise<TrialRecord[]> {
    const rows = this.guard(() => this.db.prepare('SELECT * FROM trials ORDER BY seq').all() as TrialRow[]);
    return rows.map(toRecord);
  }

  async getTrial(trialId: string): Promise<TrialRecord | undefined> {
    const row = this.guard(
      () => this.db.prepare('SELECT * FROM trials WHERE trial_id = ?').get(trialId) as TrialRow | undefined,
    );
    return row ? toRecord(row) : undefined;
  }

  private async rawPutTrial(t: TrialRecord): Promise<void> {
    this.guard(() =>
      this.db
        .prepare(
          `INSERT OR REPLACE INTO trials (trial_id, seq, status, hp_values, hash, score, best_step, metrics,
             message, owner_id, heartbeat_at, started_at, ended_at, retries, user_data)
           VALUES (@trialId, @seq, @status, @values, @hash, @score, @bestStep, @metrics, @message, @ownerId,
             @heartbeatAt, @startedAt, @endedAt, @retries, @userData)`,
        )
        .run({
          ...t,
          values: encode(t.values),
          metrics: encode(t.metrics),
          userData: encode(t.userData),
          score: t.score !== null && Number.isFinite(t.score) ? t.score : null,
        }),
    );
  }

  private async rawPutMetrics(rows: EpochMetric[]): Promise<void> {
    if (rows.length === 0) return;
    this.guard(() => {
      const stmt = this.db.prepare(
        'INSERT OR REPLACE INTO epoch_metrics (trial_id, execution, step, name, value) VALUES (?, ?, ?, ?, ?)',
      );
      this.db.transaction(() => {
        for (const r of rows) stmt.run(r.trialId, r.execution, r.step, r.name, Number.isNaN(r.value) ? null : r.value);
      })();
    });
  }

  async listMetrics(trialId?: string): Promise<EpochMetric[]> {
    const rows = this.guard(() =>
      trialId === undefined
        ? this.db.prepare('SELECT * FROM epoch_metrics ORDER BY trial_id, execution, step').all()
        : this.db.prepare('SELECT * FROM epoch_metrics WHERE trial_id = ? ORDER BY execution, step').all(trialId),
    ) as { trial_id: string; execution: number; step: number; name: string; value: number | null }[];
    return rows.map((r) => ({
      trialId: r.trial_id,
      execution: r.execution,
      step: r.step,
      name: r.name,
      value: r.value === null ? Number.NaN : r.value,
    }));
  }

  private async rawDeleteMetrics(trialId: string): Promise<void> {
    this.guard(() => this.db.prepare('DELETE FROM epoch_metrics WHERE trial_id = ?').run(trialId));
  }

  private async rawHeartbeat(trialId: string, ownerId: string, at: number): Promise<void> {
    this.guard(() =>
      this.db
        .prepare("UPDATE trials SET heartbeat_at = ? WHERE trial_id = ? AND owner_id = ? AND status = 'RUNNING'")
        .run(at, trialId, ownerId),
    );
  }

  // Writes outside a transaction take the same in-process lock (see fileMutexes).
  putStudy(study: StudyRecord): Promise<void> {
    return this.locked(() => this.rawPutStudy(study));
  }

  putTrial(trial: TrialRecord): Promise<void> {
    return this.locked(() => this.rawPutTrial(trial));
  }

  putMetrics(rows: EpochMetric[]): Promise<void> {
    return this.locked(() => this.rawPutMetrics(rows));
  }

  deleteMetrics(trialId: string): Promise<void> {
    return this.locked(() => this.rawDeleteMetrics(trialId));
  }

  heartbeat(trialId: string, ownerId: string, at: number): Promise<void> {
    return this.locked(() => this.rawHeartbeat(trialId, ownerId, at));
  }

  private locked(fn: () => Promise<void>): Promise<void> {
    if (this.readOnly) return Promise.reject(new StorageError(`The study at ${this.location} was opened read-only.`));
    return this.mutex.run(fn);
  }

  /** The unlocked operations handed to a transaction's callback. */
  private txStore(): StudyStore {
    return {
      getStudy: () => this.getStudy(),
      putStudy: (study) => this.rawPutStudy(study),
      listTrials: () => this.listTrials(),
      getTrial: (id) => this.getTrial(id),
      putTrial: (trial) => this.rawPutTrial(trial),
      putMetrics: (rows) => this.rawPutMetrics(rows),
      listMetrics: (id) => this.listMetrics(id),
      deleteMetrics: (id) => this.rawDeleteMetrics(id),
      heartbeat: (id, owner, at) => this.rawHeartbeat(id, owner, at),
    };
  }

  async transaction<T>(fn: (tx: StudyStore) => Promise<T>): Promise<T> {
    if (this.readOnly) throw new StorageError(`The study at ${this.location} was opened read-only.`);
    return this.mutex.run(async () => {
      this.guard(() => this.db.exec('BEGIN IMMEDIATE'));
      try {
        const result = await fn(this.txStore());
        this.db.exec('COMMIT');
        return result;
      } catch (err) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw err;
      }
    });
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof StorageError) throw err;
      throw new StorageError(`Study database ${this.location}: ${(err as Error).message}`);
    }
  }
}

/** Factory for 'sqlite:' URLs. 'sqlite:' alone (or 'sqlite://') means <directory>/<projectName>/study.db. */
export async function openSqliteStorage(url: string, ctx: StorageContext): Promise<StudyStorage> {
  const projectDir = path.resolve(ctx.directory, ctx.projectName);
  const rest = url.replace(/^sqlite:(\/\/)?/i, '');
  const file = rest === '' ? path.join(projectDir, 'study.db') : path.resolve(rest);
  if (ctx.readOnly) return new SqliteStudyStorage(file, projectDir, true);
  if (ctx.overwrite) {
    rmSync(projectDir, { recursive: true, force: true });
    if (rest !== '') {
      for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
    }
  }
  mkdirSync(projectDir, { recursive: true });
  mkdirSync(path.dirname(file), { recursive: true });
  return new SqliteStudyStorage(file, projectDir);
}
