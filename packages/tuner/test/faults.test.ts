/**
 * The tuner's failure paths, each with the fault really injected:
 * - the PostgreSQL server stopped and restarted in the middle of a distributed study;
 * - a session stuck inside a transaction holding the study lock (lock_timeout and
 *   idle_in_transaction_session_timeout free the study);
 * - a trial that kills its own worker with a real out-of-memory abort, under a restart policy;
 * - the checkpoint disk filling up mid-trial (a real, tiny tmpfs).
 * Worker processes import the built package (dist/); `npm test` builds first.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasSystem } from '../../../test-support/system.js';
import { HyperModel, HyperParameters, hasCheckpoint, loadCheckpoint, RandomSearch, type Trial } from '../src/index.js';
import { createPool, parsePostgresUrl } from '../src/storage/postgres/connection.js';
import { openStorage } from '../src/storage/registry.js';
import type { TrialRecord } from '../src/storage/types.js';
import { type PgInstance, postgresBinDir, startPgInstance } from './fixtures/pg-instance.js';
import { createTestSchema, trialsOf as storedTrials, type TestSchema } from './fixtures/pg-schema.js';
import { readEvents, startWorker, waitFor } from './fixtures/workers.js';

const directory = mkdtempSync(path.join(tmpdir(), 'tuneserve-faults-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const trialsOf = (storage: string, projectName: string) => storedTrials(storage, directory, projectName);

function expectExactlyOnce(trials: TrialRecord[], maxTrials: number): void {
  expect(trials.map((t) => t.status)).toEqual(Array(maxTrials).fill('COMPLETED'));
  expect(trials.map((t) => t.seq)).toEqual(Array.from({ length: maxTrials }, (_, i) => i));
  expect(new Set(trials.map((t) => t.hash)).size).toBe(maxTrials); // no configuration run twice
}

describe.skipIf(!hasSystem('postgres'))('PostgreSQL outages', () => {
  describe.skipIf(!postgresBinDir())('the server stopped and restarted mid-study', () => {
    let server: PgInstance;
    beforeAll(async () => {
      server = await startPgInstance();
    });
    afterAll(() => server?.destroy());

    it('workers wait with back-off and finish the study: nothing lost, nothing doubled', async () => {
      const log = path.join(directory, 'restart.jsonl');
      // A heartbeat timeout well above the outage: this test is about waiting, not take-overs.
      const base = {
        storage: server.url,
        projectName: 'restart',
        directory,
        maxTrials: 24,
        seed: 5,
        trialMs: 150,
        heartbeatTimeoutMs: 30_000,
        log,
      };
      const workers = ['a', 'b'].map((id) => startWorker({ ...base, tunerId: `w-${id}` }));
      const computed = () => readEvents(log).filter((e) => e.event === 'computed').length;
      await waitFor(() => computed() >= 4, 60_000, 'four finished trials before the outage');
      server.stop();
      await new Promise((r) => setTimeout(r, 3000)); // both workers hit the outage
      server.start();
      const exits = await Promise.all(workers.map((w) => w.exit));
      expect(exits, workers.map((w) => w.stderr()).join('\n')).toEqual([
        { code: 0, signal: null },
        { code: 0, signal: null },
      ]);
      // The outage was seen and waited out (each worker logs its retries).
      expect(workers.map((w) => w.stderr()).join('\n')).toMatch(/PostgreSQL unavailable.*retrying/);
      expectExactlyOnce(await trialsOf(server.url, 'restart'), 24);
      const perTrial = new Map<string, number>();
      for (const e of readEvents(log).filter((ev) => ev.event === 'computed')) {
        perTrial.set(e.trialId as string, (perTrial.get(e.trialId as string) ?? 0) + 1);
      }
      expect(perTrial.size).toBe(24);
    });
  });

  describe('a session stuck inside a transaction', () => {
    let schema: TestSchema;
    beforeAll(async () => {
      schema = await createTestSchema('faults');
    });
    afterAll(async () => {
      await schema?.drop();
    });

    const withParams = (params: Record<string, string>) => {
      const url = new URL(schema.url);
      for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
      return url.toString();
    };
    const lockStudy = async (client: pg.ClientBase, projectName: string) => {
      await client.query('BEGIN');
      await client.query("SELECT pg_advisory_xact_lock(hashtext('tuneserve-study:' || $1))", [projectName]);
    };

    it('connections carry lock_timeout, statement_timeout and idle_in_transaction_session_timeout', async () => {
      const { connectionString, options } = parsePostgresUrl(
        withParams({ lockTimeout: '250', statementTimeout: '4000', idleInTransactionTimeout: '1500' }),
      );
      const pool = createPool(connectionString, options);
      try {
        const show = async (name: string) => (await pool.query(`SHOW ${name}`)).rows[0]?.[name];
        expect(await show('lock_timeout')).toBe('250ms');
        expect(await show('statement_timeout')).toBe('4s');
        expect(await show('idle_in_transaction_session_timeout')).toBe('1500ms');
      } finally {
        await pool.end();
      }
      // Defaults when the URL says nothing.
      const defaults = createPool(parsePostgresUrl(schema.url).connectionString, {});
      try {
        expect((await defaults.query('SHOW lock_timeout')).rows[0]?.lock_timeout).toBe('30s');
      } finally {
        await defaults.end();
      }
    });

    it('a worker stuck holding the study lock is cut off, and the others go on', async () => {
      // The idle timeout leaves the search (opening the pool, migrating) ample time to reach the
      // lock and time out on it at least once, even on a loaded machine.
      const url = withParams({ lockTimeout: '200', idleInTransactionTimeout: '5000' });
      const projectName = 'stuck';
      // A tuneserve session (same connection settings) that takes the study lock and then hangs,
      // as a worker frozen mid-transaction would.
      const { connectionString, options } = parsePostgresUrl(url);
      const stuckPool = createPool(connectionString, options);
      const stuck = await stuckPool.connect();
      const stuckError = new Promise<Error>((resolve) => stuck.on('error', resolve));
      await lockStudy(stuck, projectName);
      class Quick extends RandomSearch {
        override async runTrial(): Promise<number> {
          return Math.random();
        }
      }
      const lines: string[] = [];
      const space = new HyperParameters();
      space.float('x', { minValue: 0, maxValue: 1 });
      const search = new Quick(null, {
        storage: url,
        directory,
        projectName,
        maxTrials: 3,
        hyperparameters: space,
        verbose: 0,
      });
      const original = process.stderr.write.bind(process.stderr);
      process.stderr.write = ((chunk: string | Uint8Array) => {
        lines.push(String(chunk));
        return true;
      }) as typeof process.stderr.write;
      try {
        await search.search();
      } finally {
        process.stderr.write = original;
        await search.close();
      }
      expect((await trialsOf(url, projectName)).map((t) => t.status)).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED']);
      // The waiting worker hit lock_timeout and retried rather than hanging...
      expect(lines.join('')).toMatch(/lock timeout/);
      // ...and the stuck session was terminated by the server, which released the lock.
      expect((await stuckError).message).toMatch(/idle-in-transaction timeout|terminat/i);
      stuck.release(true);
      await stuckPool.end();
    });

    it('with the lock held for longer than the retry budget, the call fails with a clear error instead of hanging', async () => {
      const url = withParams({ lockTimeout: '100', retryBudget: '800' });
      const projectName = 'held';
      const storage = await openStorage(url, { directory, projectName, overwrite: false });
      const holder = new pg.Client({ connectionString: parsePostgresUrl(schema.url).connectionString });
      await holder.connect();
      try {
        await lockStudy(holder, projectName);
        const quiet = process.stderr.write;
        process.stderr.write = (() => true) as typeof process.stderr.write;
        try {
          await expect(storage.transaction(async (tx) => tx.getStudy())).rejects.toThrow(/lock timeout/);
        } finally {
          process.stderr.write = quiet;
        }
        await holder.query('ROLLBACK'); // the holder lets go: the study is usable again
        await expect(storage.transaction(async (tx) => tx.getStudy())).resolves.toBeUndefined();
      } finally {
        await holder.end();
        await storage.close();
      }
    });
  });
});

describe('a trial that kills its own worker', () => {
  const script = fileURLToPath(new URL('./fixtures/crash-worker.mjs', import.meta.url));

  /** Runs the worker under a restart policy (restart on any failure, at most `limit` starts). */
  async function runWithRestarts(config: object, limit: number): Promise<{ starts: number; signals: string[] }> {
    const signals: string[] = [];
    for (let starts = 1; starts <= limit; starts++) {
      const child = spawn(process.execPath, ['--max-old-space-size=32', script, JSON.stringify(config)], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      child.stderr.resume();
      const exit = await new Promise<{ code: number | null; signal: string | null }>((resolve) =>
        child.on('exit', (code, signal) => resolve({ code, signal })),
      );
      if (exit.code === 0) return { starts, signals };
      signals.push(exit.signal ?? `exit ${exit.code}`);
    }
    return { starts: limit + 1, signals };
  }

  it('forgives one crash, counts the next ones as failed attempts and ends the trial FAILED after maxRetriesPerTrial', async () => {
    const projectName = 'oom';
    const log = path.join(directory, 'oom.jsonl');
    const config = { directory, projectName, maxTrials: 4, maxRetriesPerTrial: 1, crashTrial: '1', log };
    const { starts, signals } = await runWithRestarts(config, 6);
    // Three attempts at trial 1 each killed the process (V8 out-of-memory abort): the first death is
    // forgiven as an interruption, the second uses the one retry, the third fails the trial.
    expect(signals).toHaveLength(3);
    expect(starts).toBe(4);
    const trials = await trialsOf('sqlite:', projectName);
    expect(trials.map((t) => t.status)).toEqual(['COMPLETED', 'FAILED', 'COMPLETED', 'COMPLETED']);
    expect(trials[1]?.retries).toBe(1);
    expect(trials[1]?.message).toMatch(/worker running it died 3 times/);
    const attempts = readEvents(log).filter((e) => e.trialId === '1');
    expect(attempts).toHaveLength(3);
  });
});

describe.skipIf(!hasSystem('postgres'))('the checkpoint disk fills up mid-trial', () => {
  let schema: TestSchema;
  const mountPoint = path.join(directory, 'small-disk');
  beforeAll(async () => {
    schema = await createTestSchema('diskfull');
    mkdirSync(mountPoint, { recursive: true });
    // A real 1 MiB filesystem; the study itself lives in PostgreSQL, only checkpoints are on it.
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mountPoint]);
  });
  afterAll(async () => {
    if (existsSync(mountPoint)) execFileSync('umount', [mountPoint]);
    await schema?.drop();
  });

  class Small extends HyperModel {
    override build(hp: HyperParameters): tf.LayersModel {
      const model = tf.sequential();
      model.add(
        tf.layers.dense({ inputShape: [12], units: hp.int('units', { minValue: 16, maxValue: 64, step: 16 }) }),
      );
      model.add(tf.layers.dense({ units: 3, activation: 'softmax' }));
      model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
      return model;
    }
  }

  const filler = path.join(mountPoint, 'filler');
  /** Fills the small disk to the last byte (the write itself ends with ENOSPC, as intended). */
  const fillDisk = () => {
    try {
      writeFileSync(filler, Buffer.alloc(2 << 20));
    } catch {
      // ENOSPC: the disk is full now
    }
  };
  const data = () => ({
    x: tf.randomUniform([64, 12], 0, 1, 'float32', 1),
    y: tf.randomUniform([64], 0, 3, 'int32', 2).toFloat(),
  });
  const storageUrl = () => `${schema.url}&checkpointDir=${encodeURIComponent(mountPoint)}`;

  it('the trial fails with a clear error, the previous checkpoint stays readable, and the search goes on once space returns', async () => {
    const { x, y } = data();
    const projectName = 'diskfull';
    const options = { storage: storageUrl(), directory, projectName, objective: 'loss', verbose: 0 as const };
    const fill = new tf.CustomCallback({
      onEpochEnd: async (epoch: number) => {
        if (epoch === 1) fillDisk();
      },
    });
    const first = new RandomSearch(new Small(), { ...options, maxTrials: 1 });
    try {
      await first.search(x, y, { epochs: 4, batchSize: 32, callbacks: [fill] });
      const [trial] = await first.oracle.getTrials();
      expect(trial?.status).toBe('FAILED');
      expect(trial?.message).toMatch(/checkpoint.*no space left on the device \(ENOSPC\).*previous checkpoint is kept/);
      const best = path.join(await first.trialDir('0'), 'checkpoint');
      expect(hasCheckpoint(best)).toBe(true);
      const model = new Small().build((trial as Trial).hyperparameters.copy());
      await loadCheckpoint(model, best); // the last epoch saved before the disk filled, intact
      model.dispose();
    } finally {
      await first.close();
    }
    rmSync(filler);
    const second = new RandomSearch(new Small(), { ...options, maxTrials: 2 });
    try {
      await second.search(x, y, { epochs: 2, batchSize: 32 });
      expect((await second.oracle.getTrials()).map((t) => t.status)).toEqual(['FAILED', 'COMPLETED']);
    } finally {
      await second.close();
      tf.dispose([x, y]);
    }
  });

  it('with maxRetriesPerTrial the trial is retried and completes once space returns', async () => {
    const { x, y } = data();
    const projectName = 'diskfull-retry';
    let run = 0;
    let previousReadable = false;
    const tuner = new RandomSearch(new Small(), {
      storage: storageUrl(),
      directory,
      projectName,
      objective: 'loss',
      maxTrials: 1,
      maxRetriesPerTrial: 1,
      verbose: 0,
    });
    const faults = new tf.CustomCallback({
      onTrainBegin: async () => {
        run++;
        if (run === 2) {
          previousReadable = hasCheckpoint(path.join(await tuner.trialDir('0'), 'checkpoint'));
          rmSync(filler); // space comes back before the retry trains
        }
      },
      onEpochEnd: async (epoch: number) => {
        if (run === 1 && epoch === 1) fillDisk();
      },
    });
    try {
      await tuner.search(x, y, { epochs: 3, batchSize: 32, callbacks: [faults] });
    } finally {
      await tuner.close();
      tf.dispose([x, y]);
    }
    expect(run).toBe(2);
    expect(previousReadable).toBe(true);
    const [trial] = await trialsOf(storageUrl(), projectName);
    expect(trial?.status).toBe('COMPLETED');
    expect(trial?.retries).toBe(1);
  });
});
