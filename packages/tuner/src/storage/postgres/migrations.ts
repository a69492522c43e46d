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
    name: 'studies, trials, epoch metrics',
    sql: `
      CREATE TABLE tuneserve_studies (
        project      text PRIMARY KEY,
        name         text NOT NULL,
        tuner        text NOT NULL,
        objective    jsonb NOT NULL,
        max_trials   integer,
        space        jsonb NOT NULL,
        oracle_state jsonb NOT NULL DEFAULT '{}'::jsonb,
        created_at   double precision NOT NULL
      );
      CREATE TABLE tuneserve_trials (
        study        text NOT NULL,
        trial_id     text NOT NULL,
        seq          integer NOT NULL,
        status       text NOT NULL,
        hp_values    jsonb NOT NULL,
        hash         text NOT NULL,
        score        double precision,
        best_step    double precision,
        metrics      jsonb NOT NULL DEFAULT '{}'::jsonb,
        message      text,
        owner_id     text,
        heartbeat_at double precision,
        started_at   double precision,
        ended_at     double precision,
        retries      integer NOT NULL DEFAULT 0,
        user_data    jsonb NOT NULL DEFAULT '{}'::jsonb,
        PRIMARY KEY (study, trial_id)
      );
      CREATE INDEX tuneserve_trials_by_seq ON tuneserve_trials (study, seq);
      CREATE TABLE tuneserve_epoch_metrics (
        study     text NOT NULL,
        trial_id  text NOT NULL,
        execution integer NOT NULL,
        step      integer NOT NULL,
        name      text NOT NULL,
        value     double precision NOT NULL,
        PRIMARY KEY (study, trial_id, execution, step, name)
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
