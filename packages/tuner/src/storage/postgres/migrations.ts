/**
 * Versioned schema migrations for the PostgreSQL study storage. Each migration runs once, in its
 * own transaction, in version order; the applied versions are recorded in
 * `tuneserve_schema_migrations`. A transaction-scoped advisory lock serialises concurrent workers
 * that start at the same moment, so exactly one of them creates or upgrades the schema.
 */
import type pg from 'pg';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Arbitrary constant key for the migration advisory lock ("tuneserv" in ASCII, truncated to int8). */
const MIGRATION_LOCK_KEY = 0x74756e6573657276n;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'studies, trials, checkpoints',
    sql: `
      CREATE TABLE tuneserve_studies (
        id           bigserial PRIMARY KEY,
        name         text NOT NULL UNIQUE,
        config       jsonb NOT NULL DEFAULT '{}'::jsonb,
        oracle_state jsonb NOT NULL DEFAULT '{}'::jsonb,
        created_at   timestamptz NOT NULL DEFAULT now(),
        updated_at   timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE tuneserve_trials (
        study_id        bigint NOT NULL REFERENCES tuneserve_studies(id) ON DELETE CASCADE,
        trial_id        text NOT NULL,
        seq             integer NOT NULL,
        status          text NOT NULL,
        hyperparameters jsonb NOT NULL DEFAULT '{}'::jsonb,
        values_hash     text,
        score           double precision,
        best_step       integer,
        metrics         jsonb NOT NULL DEFAULT '{}'::jsonb,
        data            jsonb NOT NULL DEFAULT '{}'::jsonb,
        message         text,
        attempt         integer NOT NULL DEFAULT 0,
        worker_id       text,
        heartbeat_at    timestamptz,
        started_at      timestamptz,
        ended_at        timestamptz,
        PRIMARY KEY (study_id, trial_id),
        UNIQUE (study_id, seq)
      );
      CREATE INDEX tuneserve_trials_status ON tuneserve_trials (study_id, status);
      CREATE TABLE tuneserve_checkpoints (
        study_id   bigint NOT NULL,
        trial_id   text NOT NULL,
        kind       text NOT NULL,
        epoch      integer NOT NULL,
        attempt    integer NOT NULL,
        files      jsonb NOT NULL,
        blob       bytea NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (study_id, trial_id, kind),
        FOREIGN KEY (study_id, trial_id) REFERENCES tuneserve_trials(study_id, trial_id) ON DELETE CASCADE
      );
    `,
  },
  {
    version: 2,
    name: 'attempt history for re-queued trials',
    sql: `
      CREATE TABLE tuneserve_trial_attempts (
        study_id   bigint NOT NULL,
        trial_id   text NOT NULL,
        attempt    integer NOT NULL,
        worker_id  text,
        outcome    text NOT NULL,
        at         timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (study_id, trial_id, attempt),
        FOREIGN KEY (study_id, trial_id) REFERENCES tuneserve_trials(study_id, trial_id) ON DELETE CASCADE
      );
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

export class SchemaVersionError extends Error {
  override name = 'SchemaVersionError';
}

/**
 * Brings the schema to the latest version. Safe to call from many processes at once.
 * Returns the versions this call applied (empty when the schema was already current).
 */
export async function migrate(client: pg.ClientBase, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  const applied: number[] = [];
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
    await client.query(`
      CREATE TABLE IF NOT EXISTS tuneserve_schema_migrations (
        version    integer PRIMARY KEY,
        name       text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    const { rows } = await client.query<{ version: number }>('SELECT version FROM tuneserve_schema_migrations');
    const done = new Set(rows.map((r) => r.version));
    const newest = Math.max(0, ...done);
    const known = migrations.length ? migrations[migrations.length - 1]!.version : 0;
    if (newest > known) {
      throw new SchemaVersionError(
        `the database schema is at version ${newest}, newer than this tuneserve understands (${known}); upgrade tuneserve`,
      );
    }
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO tuneserve_schema_migrations (version, name) VALUES ($1, $2)', [
        m.version,
        m.name,
      ]);
      applied.push(m.version);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
  return applied;
}
