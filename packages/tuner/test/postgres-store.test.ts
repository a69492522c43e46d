import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasSystem } from '../../../test-support/system.js';
import { parsePostgresUrl, StorageConnectionError } from '../src/storage/postgres/connection.js';
import { TrialHeartbeat } from '../src/storage/postgres/heartbeat.js';
import { MIGRATIONS, migrate, SCHEMA_VERSION, SchemaVersionError } from '../src/storage/postgres/migrations.js';
import {
  type Decision,
  LeaseLostError,
  type LockedStudy,
  PostgresStudyStore,
} from '../src/storage/postgres/study-store.js';
import { createTestSchema, type TestSchema } from './fixtures/pg-schema.js';

/** A tiny oracle over 1..n: hands out the smallest unused value until maxTrials trials exist. */
function countingOracle(n: number, maxTrials: number) {
  return (study: LockedStudy): Decision => {
    if (study.trials.length >= maxTrials) return { kind: 'stopped' };
    const used = new Set(study.trials.map((t) => t.hyperparameters.x));
    for (let x = 1; x <= n; x++) {
      if (!used.has(x)) return { kind: 'new', hyperparameters: { x }, valuesHash: `x=${x}` };
    }
    return { kind: 'stopped' };
  };
}

describe.skipIf(!hasSystem('postgres'))('PostgreSQL study store', () => {
  let schema: TestSchema;
  beforeAll(async () => {
    schema = await createTestSchema('store');
  });
  afterAll(async () => {
    await schema?.drop();
  });

  it('migrates once when many workers start together, and refuses a newer schema', async () => {
    const clients = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const c = new pg.Client({ connectionString: schema.url });
        await c.connect();
        return c;
      }),
    );
    try {
      const applied = await Promise.all(clients.map((c) => migrate(c)));
      expect(applied.flat().sort()).toEqual(MIGRATIONS.map((m) => m.version));
      const { rows } = await clients[0]!.query('SELECT version FROM tuneserve_schema_migrations ORDER BY version');
      expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
      expect(await migrate(clients[0]!)).toEqual([]);
      await expect(migrate(clients[0]!, MIGRATIONS.slice(0, 1))).rejects.toBeInstanceOf(SchemaVersionError);
      expect(SCHEMA_VERSION).toBe(MIGRATIONS.at(-1)!.version);
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });

  it('hands out each configuration once and respects maxTrials exactly under concurrent claims', async () => {
    const stores = await Promise.all(
      Array.from({ length: 4 }, () => PostgresStudyStore.open({ url: schema.url, studyName: 'concurrent' })),
    );
    try {
      const oracle = countingOracle(100, 25);
      const claims = await Promise.all(
        Array.from({ length: 60 }, (_, i) => stores[i % 4]!.claimTrial(`w${i % 4}`, oracle)),
      );
      const handed = claims.filter((c) => c.kind === 'trial');
      expect(handed).toHaveLength(25);
      const xs = handed.map((c) => (c.kind === 'trial' ? c.trial.hyperparameters.x : -1));
      expect(new Set(xs).size).toBe(25);
      // Nothing finished yet: the others are told to wait, not to stop, since a worker may die.
      expect(claims.filter((c) => c.kind === 'idle')).toHaveLength(35);
      for (const c of handed) {
        if (c.kind === 'trial')
          await stores[0]!.finishTrial(c.lease, { status: 'COMPLETED', score: Number(c.trial.hyperparameters.x) });
      }
      expect((await stores[1]!.claimTrial('late', oracle)).kind).toBe('stopped');
      const trials = await stores[2]!.listTrials();
      expect(trials.filter((t) => t.status === 'COMPLETED')).toHaveLength(25);
      expect(trials.map((t) => t.seq)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('re-queues a trial whose worker stopped heartbeating and fences the late worker out', async () => {
    const a = await PostgresStudyStore.open({
      url: schema.url,
      studyName: 'fencing',
      heartbeatInterval: 0.1,
      gracePeriod: 0.6,
    });
    const b = await PostgresStudyStore.open({
      url: schema.url,
      studyName: 'fencing',
      heartbeatInterval: 0.1,
      gracePeriod: 0.6,
    });
    try {
      const oracle = countingOracle(10, 1);
      const first = await a.claimTrial('worker-a', oracle);
      if (first.kind !== 'trial') throw new Error('expected a trial');
      await a.saveCheckpoint(first.lease, 'last', 3, { 'model.json': new TextEncoder().encode('{"epoch":3}') });
      await a.updateRunning(first.lease, { metrics: { loss: [{ step: 0, value: 1 }] } });

      // Worker a stops heartbeating (as if SIGSTOPped); within the grace period b must wait.
      expect((await b.claimTrial('worker-b', oracle)).kind).toBe('idle');
      await new Promise((r) => setTimeout(r, 900));
      const second = await b.claimTrial('worker-b', oracle);
      expect(second.kind).toBe('trial');
      if (second.kind !== 'trial') return;
      expect(second.resumed).toBe(true);
      expect(second.lease).toEqual({ trialId: first.lease.trialId, attempt: 2, workerId: 'worker-b' });
      expect(second.trial.metrics.loss).toEqual([{ step: 0, value: 1 }]);
      const resumeFrom = await b.loadCheckpoint(second.lease.trialId, 'last');
      expect(resumeFrom?.epoch).toBe(3);
      expect(new TextDecoder().decode(resumeFrom?.files['model.json'])).toBe('{"epoch":3}');

      // The late worker comes back: every write it attempts is rejected.
      await expect(a.heartbeat(first.lease)).rejects.toBeInstanceOf(LeaseLostError);
      await expect(
        a.saveCheckpoint(first.lease, 'last', 9, { 'model.json': new Uint8Array([1]) }),
      ).rejects.toBeInstanceOf(LeaseLostError);
      await expect(a.finishTrial(first.lease, { status: 'COMPLETED', score: 999 })).rejects.toBeInstanceOf(
        LeaseLostError,
      );
      expect((await b.loadCheckpoint(second.lease.trialId, 'last'))?.epoch).toBe(3);

      const done = await b.finishTrial(second.lease, { status: 'COMPLETED', score: 1, bestStep: 4 });
      expect(done).toMatchObject({ status: 'COMPLETED', score: 1, attempt: 2 });
      await expect(b.finishTrial(second.lease, { status: 'COMPLETED', score: 2 })).rejects.toBeInstanceOf(
        LeaseLostError,
      );
      expect((await a.getTrial(second.lease.trialId))?.score).toBe(1);
      expect(await a.attempts(second.lease.trialId)).toEqual([
        { trialId: second.lease.trialId, attempt: 1, workerId: 'worker-a', outcome: 'STALE' },
        { trialId: second.lease.trialId, attempt: 2, workerId: 'worker-b', outcome: 'COMPLETED' },
      ]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a live heartbeat keeps the trial; a lost lease is reported once', async () => {
    const store = await PostgresStudyStore.open({
      url: schema.url,
      studyName: 'heartbeat',
      heartbeatInterval: 0.1,
      gracePeriod: 0.5,
    });
    const other = await PostgresStudyStore.open({
      url: schema.url,
      studyName: 'heartbeat',
      heartbeatInterval: 0.1,
      gracePeriod: 0.5,
    });
    try {
      const claim = await store.claimTrial('alive', countingOracle(5, 1));
      if (claim.kind !== 'trial') throw new Error('expected a trial');
      const lost: LeaseLostError[] = [];
      const hb = new TrialHeartbeat(store, claim.lease, 0.1, (e) => lost.push(e)).start();
      await new Promise((r) => setTimeout(r, 1200));
      expect(await other.requeueStale()).toEqual([]);
      expect((await other.getTrial(claim.lease.trialId))?.status).toBe('RUNNING');
      // Another worker finishes it out from under us (as after a re-queue): the heartbeat notices.
      const raw = new pg.Client({ connectionString: schema.url });
      await raw.connect();
      await raw.query('UPDATE tuneserve_trials SET attempt = attempt + 1 WHERE trial_id = $1 AND study_id = $2', [
        claim.lease.trialId,
        other.studyId,
      ]);
      await raw.end();
      await new Promise((r) => setTimeout(r, 400));
      await hb.stop();
      expect(hb.lost).toBe(true);
      expect(lost).toHaveLength(1);
      expect(lost[0]).toBeInstanceOf(LeaseLostError);
    } finally {
      await store.close();
      await other.close();
    }
  });

  it('NaN scores are stored as null, never as a best score', async () => {
    const store = await PostgresStudyStore.open({ url: schema.url, studyName: 'nan' });
    try {
      const claim = await store.claimTrial('w', countingOracle(5, 1));
      if (claim.kind !== 'trial') throw new Error('expected a trial');
      const done = await store.finishTrial(claim.lease, {
        status: 'FAILED',
        score: Number.NaN,
        message: 'objective is NaN',
      });
      expect(done).toMatchObject({ status: 'FAILED', score: null, message: 'objective is NaN' });
    } finally {
      await store.close();
    }
  });

  it('gives clear errors for bad URLs, a wrong password and a missing study', async () => {
    expect(() => parsePostgresUrl('mysql://x@y/z')).toThrow(StorageConnectionError);
    expect(() => parsePostgresUrl('postgres://u:p@h/db?heartbeatInterval=abc')).toThrow(
      /heartbeatInterval must be a positive/,
    );
    expect(() => parsePostgresUrl('postgres://u:p@h/db?heartbeatInterval=10&gracePeriod=5')).toThrow(/must exceed/);
    expect(parsePostgresUrl('postgres://u:p@h/db?gracePeriod=30&sslmode=disable')).toEqual({
      connectionString: 'postgres://u:p@h/db?sslmode=disable',
      options: { heartbeatInterval: 10, gracePeriod: 30 },
    });
    const wrong = new URL(schema.url);
    wrong.password = 'not-the-password';
    const failure = PostgresStudyStore.open({ url: wrong.toString(), studyName: 'x' });
    await expect(failure).rejects.toBeInstanceOf(StorageConnectionError);
    await expect(failure).rejects.toThrow(/cannot connect to PostgreSQL at postgres:\/\/tuneserve:\*\*\*@127\.0\.0\.1/);
    await expect(failure).rejects.not.toThrow(/not-the-password/);
    await expect(PostgresStudyStore.open({ url: schema.url, studyName: 'absent', mustExist: true })).rejects.toThrow(
      /no study named "absent"/,
    );
  });
});
