/**
 * BackgroundImportance: importance fitted in a real worker thread (the tuner's built importance-worker.js), answered
 * at once with the last result and its state; a newer set of trials replaces an older waiting one; a worker that
 * runs out of its heap is reported in the status (and not retried until the trials change); close() stops it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  BackgroundImportance,
  type ImportanceSnapshot,
  inlineImportance,
  type ObjectiveTrial,
  objectiveImportances,
} from '../src/index.js';

const optimizers = ['adam', 'sgd', 'rmsprop'];

/** n completed trials: accuracy driven by the optimizer, latency by the units. */
function trials(n: number): ObjectiveTrial[] {
  return Array.from({ length: n }, (_, i) => {
    const optimizer = optimizers[i % 3]!;
    const units = 16 * (1 + ((i * 7) % 8));
    const accuracy = (optimizer === 'adam' ? 0.95 : 0.85) + 0.001 * ((i * 5) % 7);
    const latency = units / 10 + 0.01 * ((i * 3) % 5);
    return {
      status: 'COMPLETED',
      hyperparameters: { optimizer, units, dropout: ((i * 0.37) % 1) / 2 },
      score: accuracy,
      values: [accuracy, latency],
    };
  });
}

const objectives = ['val_accuracy', 'latency_ms'];
let open: BackgroundImportance[] = [];
const service = (o: ConstructorParameters<typeof BackgroundImportance>[0] = {}) => {
  const s = new BackgroundImportance(o);
  open.push(s);
  return s;
};

/** Reads until the state is no longer `computing` (the dashboard's polling). */
async function settled(read: () => ImportanceSnapshot): Promise<ImportanceSnapshot> {
  for (;;) {
    const snapshot = read();
    if (snapshot.status.state !== 'computing') return snapshot;
    await new Promise((r) => setTimeout(r, 20));
  }
}

afterEach(async () => {
  await Promise.all(open.map((s) => s.close()));
  open = [];
});

describe('importance in a worker thread', () => {
  it('answers at once, then gives every objective the numbers computed directly', async () => {
    const importance = service();
    const first = importance.importanceOf('a', trials(20), objectives);
    expect(first).toEqual({ byObjective: {}, status: { state: 'computing', completedTrials: 0 } });
    const done = await settled(() => importance.importanceOf('a', trials(20), objectives));
    expect(done.status).toEqual({ state: 'ready', completedTrials: 20 });
    expect(done.byObjective).toEqual(objectiveImportances(trials(20), objectives));
    expect(done.byObjective).toEqual(inlineImportance.importanceOf('a', trials(20), objectives).byObjective);
    expect(Object.keys(done.byObjective.val_accuracy!)[0]).toBe('optimizer');
    expect(Object.keys(done.byObjective.latency_ms!)[0]).toBe('units');

    // A trial more: the last importance stays readable, said to be of 20 trials, until the new one is in.
    const pending = importance.importanceOf('a', trials(21), objectives);
    expect(pending.status).toEqual({ state: 'computing', completedTrials: 20 });
    expect(pending.byObjective).toEqual(done.byObjective);
    const next = await settled(() => importance.importanceOf('a', trials(21), objectives));
    expect(next.status.completedTrials).toBe(21);
    expect(next.byObjective).toEqual(objectiveImportances(trials(21), objectives));
  });

  it('answers a study of fewer than two completed trials at once, without starting a worker', () => {
    const importance = service();
    expect(importance.importanceOf('a', trials(1), objectives)).toEqual({
      byObjective: { val_accuracy: {}, latency_ms: {} },
      status: { state: 'ready', completedTrials: 1 },
    });
    expect(importance.stats).toEqual({ computed: 0, failed: 0 });
  });

  it('computes one set at a time: a newer set of trials replaces the one waiting', async () => {
    const importance = service();
    importance.importanceOf('a', trials(10), objectives); // starts at once
    importance.importanceOf('a', trials(11), objectives); // waits
    importance.importanceOf('a', trials(12), objectives); // replaces 11
    importance.importanceOf('b', trials(15), objectives); // another study waits its turn
    const a = await settled(() => importance.importanceOf('a', trials(12), objectives));
    const b = await settled(() => importance.importanceOf('b', trials(15), objectives));
    expect(a.status.completedTrials).toBe(12);
    expect(b.status.completedTrials).toBe(15);
    expect(importance.stats).toEqual({ computed: 3, failed: 0 }); // 10, 12 and b's 15; never 11
    expect(b.byObjective).toEqual(objectiveImportances(trials(15), objectives));
  });

  it('reports a worker that runs out of memory in the status, without retrying the same trials', async () => {
    const errors: string[] = [];
    const importance = service({ maxHeapMb: 1, onError: (e) => errors.push(e) });
    const failed = await settled(() => importance.importanceOf('a', trials(20), objectives));
    expect(failed.status.state).toBe('failed');
    expect(failed.status.error).toMatch(/importance worker failed: .*memory limit/);
    expect(errors).toEqual([failed.status.error]);
    expect(importance.importanceOf('a', trials(20), objectives).status.state).toBe('failed');
    expect(importance.stats.failed).toBe(1);
    // New trials: tried again (in a new worker, which fails the same way here).
    expect(importance.importanceOf('a', trials(21), objectives).status.state).toBe('computing');
    await settled(() => importance.importanceOf('a', trials(21), objectives));
    expect(importance.stats.failed).toBe(2);
  });

  it('stops the worker on close; what was computed stays readable', async () => {
    const importance = service();
    const done = await settled(() => importance.importanceOf('a', trials(8), objectives));
    await importance.close();
    expect(importance.importanceOf('a', trials(8), objectives)).toEqual(done);
    const after = importance.importanceOf('a', trials(9), objectives);
    expect(after.status).toMatchObject({
      state: 'failed',
      completedTrials: 8,
      error: expect.stringMatching(/stopped/),
    });
  });
});
