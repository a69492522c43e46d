/**
 * The study route never waits for importance: a real server on 127.0.0.1 with the CLI's study source over real
 * SQLite studies (written by the tuner's ask and tell, one still running) answers at once saying importance is being
 * computed, then serves the numbers hyperparameterImportance gives directly; a two-objective study gets one set per
 * objective; a worker that fails shows as an error field (200, not 500) and the server keeps serving.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StudyJson } from '@tuneserve/client';
import { createServer, type StudySource, type TuneServer } from '@tuneserve/server';
import { HyperParameters, hyperparameterImportance, loadStudy, Objective, RandomSearch } from '@tuneserve/tuner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeModel } from '../../server/test/fixtures.js';
import { studySourceFor } from '../src/adapters/sources.js';
import { formatTrials } from '../src/commands/trials.js';

let directory: string;
let models: string;
/** The single-objective search, left open so the test can finish one more trial while the server reads. */
let search: RandomSearch;

function space(): HyperParameters {
  const hp = new HyperParameters();
  hp.float('x', { minValue: 0, maxValue: 1 });
  hp.choice('optimizer', ['adam', 'sgd', 'rmsprop']);
  hp.int('units', { minValue: 16, maxValue: 256 });
  return hp;
}

/** Runs `n` trials of ask and tell on `tuner`; `score` maps a trial's values to its metrics. */
async function runTrials(
  tuner: RandomSearch,
  n: number,
  score: (get: (name: string) => unknown) => Record<string, number>,
): Promise<void> {
  for (let i = 0; i < n; i++) {
    const trial = await tuner.ask();
    if (!trial) throw new Error('the search ended early');
    await tuner.tell(
      trial,
      score((name) => trial.hyperparameters.get(name)),
    );
  }
}

const loss = (get: (name: string) => unknown) => ({
  val_loss: 3 * (get('x') as number) + (get('optimizer') === 'adam' ? 0 : 0.2),
});

async function serve(source: StudySource): Promise<{ server: TuneServer; url: string }> {
  const server = await createServer({
    modelRoot: models,
    study: source,
    pollIntervalMs: 0,
    logger: { level: 'silent' },
    defaultMetrics: false,
  });
  return { server, url: await server.listen(0, '127.0.0.1') };
}

async function getStudy(url: string, model: string): Promise<StudyJson> {
  const res = await fetch(`${url}/api/models/${model}/study`);
  expect(res.status).toBe(200);
  return (await res.json()) as StudyJson;
}

/** Reads the study as a polling dashboard does until its importance is no longer being computed. */
async function settled(url: string, model: string): Promise<StudyJson> {
  for (;;) {
    const study = await getStudy(url, model);
    if (study.importanceStatus?.state !== 'computing') return study;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** What hyperparameterImportance gives for the k-th objective of the trials the route returned. */
const direct = (study: StudyJson, k: number) =>
  hyperparameterImportance(
    study.trials.map((t) => ({
      status: t.status,
      hyperparameters: t.hyperparameters,
      score: t.values ? (t.values[k] ?? null) : t.score,
    })),
  );

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'tuneserve-study-importance-'));
  models = join(directory, 'models');
  // Models without a training record show the study named after them.
  await writeModel(join(models, 'search', '1'), 'identity');
  await writeModel(join(models, 'pareto', '1'), 'identity');
  search = new RandomSearch(null, {
    directory,
    projectName: 'search',
    hyperparameters: space(),
    objective: 'val_loss',
    maxTrials: 31,
    seed: 5,
    verbose: 0,
  });
  await runTrials(search, 30, loss);
  const pareto = new RandomSearch(null, {
    directory,
    projectName: 'pareto',
    hyperparameters: space(),
    objective: [new Objective('val_accuracy', 'max'), new Objective('latency_ms', 'min')],
    maxTrials: 24,
    seed: 7,
    verbose: 0,
  });
  await runTrials(pareto, 24, (get) => ({
    val_accuracy: (get('optimizer') === 'adam' ? 0.95 : 0.85) + 0.01 * (get('x') as number),
    latency_ms: (get('units') as number) / 10,
  }));
  await pareto.close();
});

afterAll(async () => {
  await search?.close();
});

describe('importance off the request path', () => {
  let server: TuneServer;
  let url: string;
  beforeAll(async () => {
    ({ server, url } = await serve(studySourceFor({ directory })));
  });
  afterAll(async () => server?.close());

  it('answers while importance is pending, then gives what hyperparameterImportance gives', async () => {
    const first = await getStudy(url, 'search');
    expect(first.trials).toHaveLength(30);
    expect(first.importanceStatus).toEqual({ state: 'computing', completedTrials: 0 });
    expect(first.importance).toEqual({});
    expect((await fetch(`${url}/v1/models/search`)).status).toBe(200); // the server answers meanwhile

    const ready = await settled(url, 'search');
    expect(ready.importanceStatus).toEqual({ state: 'ready', completedTrials: 30 });
    expect(ready.importance).toEqual(direct(ready, 0));
    expect(Object.keys(ready.importance ?? {})[0]).toBe('x'); // x drives val_loss
    expect(ready.importanceByObjective).toEqual({ val_loss: ready.importance });

    // One more trial finishes: the last importance is served, said to be of 30 trials, until the new one is in.
    await runTrials(search, 1, loss);
    const pending = await getStudy(url, 'search');
    expect(pending.trials).toHaveLength(31);
    expect(pending.importanceStatus).toEqual({ state: 'computing', completedTrials: 30 });
    expect(pending.importance).toEqual(ready.importance);
    const next = await settled(url, 'search');
    expect(next.importanceStatus).toEqual({ state: 'ready', completedTrials: 31 });
    expect(next.importance).toEqual(direct(next, 0));
  });

  it('gives each objective of a two-objective study its own importance', async () => {
    const study = await settled(url, 'pareto');
    expect(study.objectives?.map((o) => o.name)).toEqual(['val_accuracy', 'latency_ms']);
    const byObjective = study.importanceByObjective ?? {};
    expect(Object.keys(byObjective)).toEqual(['val_accuracy', 'latency_ms']);
    expect(byObjective.val_accuracy).toEqual(direct(study, 0));
    expect(byObjective.latency_ms).toEqual(direct(study, 1));
    expect(Object.keys(byObjective.val_accuracy ?? {})[0]).toBe('optimizer');
    expect(Object.keys(byObjective.latency_ms ?? {})[0]).toBe('units');
    expect(study.importance).toEqual(byObjective.val_accuracy);
  });
});

describe('`tuneserve trials`', () => {
  it("ends with each objective's importance in a two-objective study", async () => {
    const study = await loadStudy({ directory, projectName: 'pareto' });
    expect(study?.importanceStatus).toEqual({ state: 'ready', completedTrials: 24 }); // a command computes at once
    expect(formatTrials(study!)).toMatch(
      /\nhyperparameter importance \(share of each objective's variance, fANOVA\):\n {2}val_accuracy \(max\): optimizer \d+\.\d%, [^\n]+\n {2}latency_ms \(min\): units \d+\.\d%, [^\n]+\n$/,
    );
  });
});

describe('a failing importance worker', () => {
  it('shows as an error field of a 200 answer; the server keeps serving and stops the worker on close', async () => {
    const inner = studySourceFor({ directory }, { maxHeapMb: 1 }); // the worker cannot even load in 1 MB
    let closed = 0;
    const source: StudySource = {
      getStudy: (model) => inner.getStudy(model),
      close: async () => {
        closed++;
        await inner.close?.();
      },
    };
    const { server, url } = await serve(source);
    try {
      const study = await settled(url, 'pareto');
      expect(study.trials).toHaveLength(24);
      expect(study.importanceStatus).toMatchObject({ state: 'failed', completedTrials: 0 });
      expect(study.importanceStatus?.error).toMatch(/importance worker failed: .*memory limit/);
      expect(study.importance).toEqual({});
      expect((await getStudy(url, 'pareto')).importanceStatus?.state).toBe('failed'); // not retried in a loop
      expect((await fetch(`${url}/v1/models/pareto`)).status).toBe(200);
    } finally {
      await server.close();
    }
    expect(closed).toBe(1);
  });
});
