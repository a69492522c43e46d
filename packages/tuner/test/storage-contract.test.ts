/**
 * One StudyStorage contract, run against SQLite and PostgreSQL. The locking test spawns worker
 * processes that import the built package (dist/): `npm test` builds first (pretest).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
import { hasSystem } from '../../../test-support/system.js';
import { openPostgresStorage } from '../src/storage/postgres/postgres-storage.js';
import { openSqliteStorage } from '../src/storage/sqlite.js';
import { createTestSchema, type TestSchema } from './fixtures/pg-schema.js';
import { storageContract } from './fixtures/storage-contract.js';

const directory = mkdtempSync(path.join(tmpdir(), 'tuneserve-contract-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

storageContract('sqlite', (context) => openSqliteStorage('sqlite:', { ...context, directory }), {
  args: (project) => ['sqlite:', directory, project],
});

describe.skipIf(!hasSystem('postgres'))('postgres', () => {
  let schema: TestSchema;
  beforeAll(async () => {
    schema = await createTestSchema('contract');
  });
  afterAll(async () => {
    await schema?.drop();
  });
  storageContract('postgres', (context) => openPostgresStorage(schema.url, { ...context, directory }), {
    args: (project) => [schema.url, directory, project],
  });
});
