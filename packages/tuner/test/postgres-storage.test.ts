/** PostgreSQL-only behaviour: migrations, URL handling, errors, and reading a study for the CLI/dashboard. */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasSystem } from '../../../test-support/system.js';
import { StorageError } from '../src/errors.js';
import { HyperParameters } from '../src/hyperparameters/index.js';
import { RandomSearch } from '../src/index.js';
import { parsePostgresUrl, StorageConnectionError } from '../src/storage/postgres/connection.js';
import { MIGRATIONS, migrate, SchemaVersionError } from '../src/storage/postgres/migrations.js';
import { openStorage } from '../src/storage/registry.js';
import { loadStudy } from '../src/study.js';
import type { Trial } from '../src/trial.js';
import { createTestSchema, type TestSchema } from './fixtures/pg-schema.js';

const directory = '/tmp/tuneserve-pg-unused';

describe('PostgreSQL storage URLs', () => {
  it('separates tuneserve options from the connection string and rejects bad ones clearly', () => {
    expect(parsePostgresUrl('postgres://u:p@h:5433/db?sslmode=disable&checkpointDir=/shared/ckpt')).toEqual({
      connectionString: 'postgres://u:p@h:5433/db?sslmode=disable',
      options: { checkpointDir: '/shared/ckpt' },
    });
    expect(() => parsePostgresUrl('mysql://u@h/db')).toThrow(StorageConnectionError);
    expect(() => parsePostgresUrl('postgres://u:p@h/db?checkpointDir=')).toThrow(/checkpointDir must not be empty/);
    expect(parsePostgresUrl('postgresql://u:p@h/db').options).toEqual({});
    // A bad URL is a StorageError like every other storage failure.
    expect(() => parsePostgresUrl('postgresql://u:secret@[bad')).toThrow(StorageError);
  });
});

describe.skipIf(!hasSystem('postgres'))('PostgreSQL storage', () => {
  let schema: TestSchema;
  beforeAll(async () => {
    schema = await createTestSchema('pgstore');
  });
  afterAll(async () => {
    await schema?.drop();
  });

  it('reads an empty database read-only without creating anything', async () => {
    const empty = await createTestSchema('empty');
    try {
      const s = await openStorage(empty.url, { directory, projectName: 'nothing', overwrite: false, readOnly: true });
      expect(await s.getStudy()).toBeUndefined();
      expect(await s.listTrials()).toEqual([]);
      await s.close();
      expect(await loadStudy({ projectName: 'nothing', storage: empty.url })).toBeUndefined();
      const c = new pg.Client({ connectionString: empty.url });
      await c.connect();
      const { rows } = await c.query('SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = $1', [empty.name]);
      await c.end();
      expect(rows[0].n).toBe(0);
    } finally {
      await empty.drop();
    }
  });

  it('migrates once when many workers start together, and refuses a schema newer than it knows', async () => {
    const fresh = await createTestSchema('migrate');
    const clients = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const c = new pg.Client({ connectionString: fresh.url });
        await c.connect();
        return c;
      }),
    );
    try {
      const applied = await Promise.all(clients.map((c) => migrate(c)));
      expect(applied.flat().sort()).toEqual(MIGRATIONS.map((m) => m.version));
      expect(await migrate(clients[0]!)).toEqual([]);
      const newer = [...MIGRATIONS, { version: 99, name: 'from the future', sql: 'SELECT 1' }];
      expect(await migrate(clients[1]!, newer)).toEqual([99]);
      await expect(migrate(clients[2]!)).rejects.toBeInstanceOf(SchemaVersionError);
      await expect(migrate(clients[2]!)).rejects.toThrow(/version 99, newer than this tuneserve understands/);
    } finally {
      await Promise.all(clients.map((c) => c.end()));
      await fresh.drop();
    }
  });

  it('names the server but never the password when it cannot connect', async () => {
    const wrong = new URL(schema.url);
    wrong.password = 'not-the-password';
    const failure = openStorage(wrong.toString(), { directory, projectName: 'x', overwrite: false });
    await expect(failure).rejects.toBeInstanceOf(StorageConnectionError);
    await expect(failure).rejects.toThrow(
      /cannot connect to PostgreSQL at postgres:\/\/tuneserve:\*\*\*@127\.0\.0\.1:5432/,
    );
    await expect(failure).rejects.not.toThrow(/not-the-password/);
  });

  it('a search stored in PostgreSQL is what loadStudy shows the CLI and the dashboard', async () => {
    const hp = new HyperParameters();
    hp.int('n', { minValue: 0, maxValue: 9 });
    class Square extends RandomSearch {
      override async runTrial(trial: Trial): Promise<number> {
        return (Number(trial.hyperparameters.values.n) - 4) ** 2;
      }
    }
    const search = new Square(null, {
      hyperparameters: hp,
      maxTrials: 5,
      seed: 2,
      directory,
      projectName: 'viewed',
      storage: schema.url,
      verbose: 0,
    });
    await search.search();
    const [bestTrial] = await search.oracle.getBestTrials(1);
    await search.close();
    const view = await loadStudy({ projectName: 'viewed', storage: schema.url });
    expect(view).toMatchObject({ name: 'viewed', tuner: 'Square', maxTrials: 5 });
    expect(view?.trials).toHaveLength(5);
    expect(view?.trials.every((t) => t.status === 'COMPLETED')).toBe(true);
    expect(Math.min(...view!.trials.map((t) => t.score!))).toBe(bestTrial!.score);
  });
});
