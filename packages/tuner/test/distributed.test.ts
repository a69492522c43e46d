/**
 * Distributed tuning proofs against a real PostgreSQL: several worker processes run the ordinary
 * Tuner.search on one study, get SIGKILLed and SIGSTOPped, and the study still ends with exactly
 * maxTrials trials, none lost, none run for the record twice, none overwritten by a late worker.
 * Workers import the built package (dist/); `npm test` builds first (pretest).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasSystem } from '../../../test-support/system.js';
import * as tuner from '../src/index.js';
import { openStorage } from '../src/storage/registry.js';
import type { TrialRecord } from '../src/storage/types.js';
import { createBraninSearch } from './fixtures/branin-search.mjs';
import { createTestSchema, trialsOf as storedTrials, type TestSchema } from './fixtures/pg-schema.js';
import { buildMlp, toyData } from './fixtures/toy-model.mjs';
import {
  MODEL_WORKER_SCRIPT,
  readEvents,
  startWorker,
  type WorkerConfig,
  type WorkerEvent,
  waitFor,
} from './fixtures/workers.js';

const directory = mkdtempSync(path.join(tmpdir(), 'tuneserve-distributed-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const trialsOf = (storage: string, projectName: string) => storedTrials(storage, directory, projectName);

/** The same search in this process on a local SQLite study: the reference for quality. */
async function singleProcessReference(projectName: string, maxTrials: number, seed: number): Promise<TrialRecord[]> {
  const search = createBraninSearch(tuner, {
    storage: 'sqlite:',
    projectName,
    directory,
    tunerId: 'solo',
    maxTrials,
    seed,
  });
  try {
    await search.search();
  } finally {
    await search.close();
  }
  return trialsOf('sqlite:', projectName);
}

function expectExactlyOnce(trials: TrialRecord[], maxTrials: number): void {
  expect(trials).toHaveLength(maxTrials);
  expect(trials.filter((t) => t.status === 'COMPLETED')).toHaveLength(maxTrials);
  expect(new Set(trials.map((t) => t.trialId)).size).toBe(maxTrials);
  expect(new Set(trials.map((t) => t.hash)).size).toBe(maxTrials); // no configuration handed out twice
  expect(trials.map((t) => t.seq)).toEqual(Array.from({ length: maxTrials }, (_, i) => i));
}

const best = (trials: TrialRecord[]) => Math.min(...trials.map((t) => t.score ?? Number.POSITIVE_INFINITY));
const hashes = (trials: TrialRecord[]) => trials.map((t) => t.hash).sort();

describe.skipIf(!hasSystem('postgres'))('distributed tuning on PostgreSQL', () => {
  let schema: TestSchema;
  beforeAll(async () => {
    schema = await createTestSchema('dist');
  });
  afterAll(async () => {
    await schema?.drop();
  });

  it('4 worker processes share a 40-trial random search: exactly 40 trials, no duplicates, same result as one process', async () => {
    const reference = await singleProcessReference('solo-40', 40, 11);
    const log = path.join(directory, 'four.jsonl');
    const workers = [1, 2, 3, 4].map((i) =>
      startWorker({
        storage: schema.url,
        projectName: 'four',
        directory,
        tunerId: `w${i}`,
        maxTrials: 40,
        seed: 11,
        trialMs: 60,
        log,
      }),
    );
    const exits = await Promise.all(workers.map((w) => w.exit));
    for (const [i, e] of exits.entries()) expect(e.code, workers[i]!.stderr()).toBe(0);

    const trials = await trialsOf(schema.url, 'four');
    expectExactlyOnce(trials, 40);
    // The oracle decides from the shared, locked state, so the 40 configurations are exactly the
    // ones a single process draws with the same seed, and so is the best score.
    expect(hashes(trials)).toEqual(hashes(reference));
    expect(best(trials)).toBe(best(reference));
    const computed = readEvents(log).filter((e) => e.event === 'computed');
    expect(computed).toHaveLength(40);
    expect(new Set(computed.map((e) => e.worker)).size).toBeGreaterThanOrEqual(2);
  });

  it('4 workers share a Bayesian study: exactly maxTrials, no duplicates, the quality of one process', async () => {
    const maxTrials = 20;
    const solo = createBraninSearch(tuner, {
      storage: 'sqlite:',
      projectName: 'solo-bo',
      directory,
      tunerId: 'solo',
      maxTrials,
      seed: 3,
      tuner: 'bayesian',
    });
    await solo.search();
    await solo.close();
    const reference = await trialsOf('sqlite:', 'solo-bo');
    const workers = [1, 2, 3, 4].map((i) =>
      startWorker({
        storage: schema.url,
        projectName: 'bayes',
        directory,
        tunerId: `b${i}`,
        maxTrials,
        seed: 3,
        tuner: 'bayesian',
      }),
    );
    for (const w of workers) expect((await w.exit).code, w.stderr()).toBe(0);
    const trials = await trialsOf(schema.url, 'bayes');
    expectExactlyOnce(trials, maxTrials);
    // Branin's minimum is 0.397887. Proposals depend on which trials are still pending, so the
    // runs differ; the shared-state GP must still find a comparably good point. The floor is half of
    // random search's median regret at 40 evaluations (1.28, bench:tuner): one interleaving that
    // heavy load produces (seen twice in CI) ends at 0.558, still far better than random.
    const regret = (t: TrialRecord[]) => best(t) - 0.397887;
    expect(regret(trials)).toBeLessThan(Math.max(3 * regret(reference), 0.64));
  });

  it('survives >= 5 SIGKILLs at random moments: exactly maxTrials completed, none lost, none counted twice', async () => {
    const maxTrials = 30;
    const reference = await singleProcessReference('solo-30', maxTrials, 23);
    const log = path.join(directory, 'chaos.jsonl');
    const config = (n: number): WorkerConfig => ({
      storage: schema.url,
      projectName: 'chaos',
      directory,
      tunerId: `chaos-${n}`,
      maxTrials,
      seed: 23,
      trialMs: 200,
      heartbeatIntervalMs: 150,
      heartbeatTimeoutMs: 1500,
      // These trials report no epochs: a second kill of the same trial would count as a failed attempt.
      maxRetriesPerTrial: 10,
      log,
    });
    let next = 0;
    const live = new Set([0, 1, 2, 3].map(() => startWorker(config(next++))));
    const all = [...live];
    let kills = 0;
    // Kill a random live worker at a random moment (replacing it when fewer than two are left), 6 times.
    while (kills < 6) {
      await new Promise((r) => setTimeout(r, 500 + Math.random() * 1000));
      const started = [...live].filter((w) => readEvents(log).some((e) => e.pid === w.pid));
      if (started.length === 0) continue;
      const victim = started[Math.floor(Math.random() * started.length)]!;
      victim.child.kill('SIGKILL');
      await victim.exit;
      live.delete(victim);
      kills++;
      // Keep at least two workers alive; each start costs seconds (loading TF.js).
      if (live.size < 2) {
        const replacement = startWorker(config(next++));
        live.add(replacement);
        all.push(replacement);
      }
    }
    const exits = await Promise.all([...live].map((w) => w.exit));
    for (const e of exits) expect(e.code).toBe(0);

    const trials = await trialsOf(schema.url, 'chaos');
    expectExactlyOnce(trials, maxTrials);
    expect(hashes(trials)).toEqual(hashes(reference));
    expect(best(trials)).toBe(best(reference));
    const events = readEvents(log);
    // Killed workers' trials were taken over: some trial was started by two workers...
    const startsPerTrial = new Map<string, number>();
    for (const e of events.filter((x) => x.event === 'start')) {
      startsPerTrial.set(e.trialId!, (startsPerTrial.get(e.trialId!) ?? 0) + 1);
    }
    expect([...startsPerTrial.values()].some((n) => n > 1)).toBe(true);
    // ...and each stored result was written by a worker that really computed that trial.
    for (const t of trials) {
      expect(events.some((e) => e.event === 'computed' && e.trialId === t.trialId && e.pid === t.metrics.pid)).toBe(
        true,
      );
    }
    expect(kills).toBeGreaterThanOrEqual(5);
    expect(all.length).toBe(4 + kills - 2);
  });

  it('a worker that comes back after its trial was taken over cannot overwrite the result', async () => {
    const log = path.join(directory, 'late.jsonl');
    const base = {
      storage: schema.url,
      projectName: 'late',
      directory,
      maxTrials: 3,
      seed: 5,
      heartbeatIntervalMs: 100,
      heartbeatTimeoutMs: 1000,
      log,
    };
    const slow = startWorker({ ...base, tunerId: 'slow', trialMs: 600 });
    await waitFor(
      () => readEvents(log).some((e) => e.event === 'start' && e.worker === 'slow'),
      60_000,
      'slow to start',
    );
    slow.child.kill('SIGSTOP'); // frozen mid-trial: no heartbeats, no progress
    const frozen = readEvents(log).find((e) => e.event === 'start' && e.worker === 'slow')!.trialId!;
    const rescuer = startWorker({ ...base, tunerId: 'rescuer', trialMs: 50 });
    try {
      expect((await rescuer.exit).code, rescuer.stderr()).toBe(0);
    } finally {
      slow.child.kill('SIGCONT');
    }
    const done = await trialsOf(schema.url, 'late');
    const rescued = done.find((t) => t.trialId === frozen)!;
    expect(rescued.status).toBe('COMPLETED');
    expect(rescued.metrics.pid).toBe(rescuer.pid);

    // The late worker finishes its computation, its result is rejected, and it exits cleanly.
    expect((await slow.exit).code, slow.stderr()).toBe(0);
    const events = readEvents(log);
    expect(events.some((e) => e.event === 'computed' && e.worker === 'slow' && e.trialId === frozen)).toBe(true);
    const after = await trialsOf(schema.url, 'late');
    expect(after.find((t) => t.trialId === frozen)).toEqual(rescued);
    expectExactlyOnce(after, 3);
  });

  it('a real TF.js model search with 2 workers: a killed trial resumes from its last epoch elsewhere; best model loads anywhere', async () => {
    const log = path.join(directory, 'model.jsonl');
    const base = {
      storage: schema.url,
      projectName: 'model',
      directory,
      maxTrials: 4,
      epochs: 4,
      epochDelayMs: 250,
      log,
    };
    const first = [
      startWorker({ ...base, tunerId: 'm1' }, MODEL_WORKER_SCRIPT),
      startWorker({ ...base, tunerId: 'm2' }, MODEL_WORKER_SCRIPT),
    ];
    // Kill whichever worker first reaches epoch 2 of a trial: epochs 0 and 1 are checkpointed.
    let victimEvent: WorkerEvent | undefined;
    await waitFor(
      () => {
        victimEvent = readEvents(log).find((e) => e.event === 'epoch' && e.epoch === 2);
        return victimEvent !== undefined;
      },
      90_000,
      'a trial to reach epoch 2',
    );
    const victim = first.find((w) => w.pid === victimEvent!.pid)!;
    victim.child.kill('SIGKILL');
    await victim.exit;
    const replacement = startWorker({ ...base, tunerId: 'm3' }, MODEL_WORKER_SCRIPT);
    const survivors = [...first.filter((w) => w !== victim), replacement];
    for (const w of survivors) expect((await w.exit).code, w.stderr()).toBe(0);

    const trials = await trialsOf(schema.url, 'model');
    expectExactlyOnce(trials, 4);
    // The killed trial went on from epoch 2 in another process instead of starting over.
    const killedTrial = victimEvent!.trialId!;
    const resumed = readEvents(log).filter(
      (e) => e.event === 'epoch' && e.trialId === killedTrial && e.pid !== victim.pid,
    );
    expect(resumed.length).toBeGreaterThan(0);
    expect(Math.min(...resumed.map((e) => e.epoch!))).toBeGreaterThanOrEqual(2);
    const storage = await openStorage(schema.url, {
      directory,
      projectName: 'model',
      overwrite: false,
      readOnly: true,
    });
    const steps = new Set((await storage.listMetrics(killedTrial)).map((m) => m.step));
    await storage.close();
    expect([...steps].sort()).toEqual([0, 1, 2, 3]);

    // Any process can load the best model: checkpoints live in the shared checkpoint folder.
    const reader = new tuner.RandomSearch((hp) => buildMlp(tf, hp), {
      objective: 'val_accuracy',
      maxTrials: 4,
      directory,
      projectName: 'model',
      storage: schema.url,
      tunerId: 'reader',
      verbose: 0,
    });
    try {
      const [model] = await reader.getBestModels(1);
      const [bestTrial] = await reader.oracle.getBestTrials(1);
      const { x, y } = toyData(tf, 200, 8);
      const accuracy = tf.tidy(
        () => (model!.predict(x) as tf.Tensor2D).argMax(1).toFloat().equal(y).mean().dataSync()[0]!,
      );
      expect(accuracy).toBeCloseTo(bestTrial!.score!, 5);
      expect(accuracy).toBeGreaterThan(0.5);
      model!.dispose();
      tf.dispose([x, y]);
    } finally {
      await reader.close();
    }
  });
});
