/**
 * Multi-objective search: the Pareto front (hand-made points), list objectives through the
 * search loop and ask-and-tell, the study view, and a study written by the previous version
 * (which summed a list objective into one score) opening with its trials ranked by the front.
 */
import { cpSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BayesianOptimization,
  BUILTIN_METRICS,
  crowdingDistances,
  dominates,
  Hyperband,
  HyperParameters,
  hyperbandTrial,
  hypervolume,
  loadStudy,
  MultiObjective,
  measureBuiltinMetrics,
  NSGA2,
  nonDominatedRanks,
  Objective,
  paretoFront,
  RandomSearch,
  type Trial,
  type Tuner,
  type TunerOptions,
  valuesHash,
} from '@tuneserve/tuner';
import { describe, expect, it } from 'vitest';
import { buildMlp, tempDir, toyData } from './helpers.js';

const dir = tempDir('multi-objective-');
const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'studies');
const maxMin = [{ direction: 'max' as const }, { direction: 'min' as const }];

describe('the Pareto front', () => {
  it('dominance compares each value in its own direction', () => {
    expect(dominates([0.9, 1], [0.8, 2], maxMin)).toBe(true);
    expect(dominates([0.9, 2], [0.8, 2], maxMin)).toBe(true); // equal on one, better on the other
    expect(dominates([0.9, 2], [0.9, 2], maxMin)).toBe(false); // equal is not domination
    expect(dominates([0.9, 3], [0.8, 2], maxMin)).toBe(false); // a trade-off
    expect(dominates([1, 1], [2, 2], [{ direction: 'min' }, { direction: 'min' }])).toBe(true);
  });

  it('keeps the non-dominated COMPLETED trials with every value finite, sorted by the first objective', () => {
    const t = (id: string, values: number[] | null, status = 'COMPLETED') => ({
      id,
      status,
      score: values?.[0] ?? null,
      values,
    });
    const trials = [
      t('a', [0.9, 10]), // front
      t('b', [0.8, 12]), // dominated by a
      t('c', [0.95, 30]), // front: best accuracy
      t('d', [0.7, 2]), // front: cheapest
      t('e', [0.99, 1], 'PRUNED'), // would dominate everything, but is not COMPLETED
      t('f', [0.9, 10]), // identical to a: both kept
      t('g', [0.97, Number.NaN]), // not finite
      t('h', null), // missing a value
      t('i', [0.85, 10]), // dominated by a (equal cost, lower accuracy)
    ];
    expect(paretoFront(trials, maxMin).map((x) => x.id)).toEqual(['c', 'a', 'f', 'd']);
    // Three objectives: a point better on the third joins the front.
    const three = [
      { status: 'COMPLETED', score: 1, values: [1, 1, 1], id: 'p' },
      { status: 'COMPLETED', score: 2, values: [2, 2, 0], id: 'q' },
      { status: 'COMPLETED', score: 2, values: [2, 2, 2], id: 'r' },
    ];
    const mins = [{ direction: 'min' as const }, { direction: 'min' as const }, { direction: 'min' as const }];
    expect(paretoFront(three, mins).map((x) => x.id)).toEqual(['p', 'q']);
    expect(paretoFront([], maxMin)).toEqual([]);
  });
});

class Tradeoff extends RandomSearch {
  override async runTrial(trial: Trial): Promise<Record<string, number>> {
    const x = trial.hyperparameters.float('x', { minValue: 0, maxValue: 1 });
    return { accuracy: 1 - (x - 1) ** 2, cost: x };
  }
}

describe('a list objective searches for the Pareto front', () => {
  it('random search: score is the first objective, values are every objective, getBestTrials() is the front', async () => {
    const lines: string[] = [];
    const tuner = new Tradeoff(null, {
      directory: dir,
      projectName: 'random-front',
      overwrite: true,
      maxTrials: 12,
      seed: 5,
      verbose: 1,
      log: (line: string) => lines.push(line),
      objective: ['accuracy', new Objective('cost', 'min')],
    });
    expect(tuner.oracle.objective).toBeInstanceOf(MultiObjective);
    expect(tuner.oracle.objective.direction).toBe('max');
    await tuner.search();
    const trials = await tuner.oracle.getTrials();
    expect(trials).toHaveLength(12);
    for (const t of trials) {
      expect(t.score).toBe(t.metrics.accuracy);
      expect(t.values).toEqual([t.metrics.accuracy, t.metrics.cost]);
    }
    // accuracy rises with x and cost rises with x: every distinct trial is a trade-off, all on the front.
    const front = await tuner.oracle.getBestTrials();
    expect(front).toHaveLength(12);
    expect(front.map((t) => t.score)).toEqual([...trials.map((t) => t.score as number)].sort((a, b) => b - a));
    expect(await tuner.oracle.getBestTrials(3)).toHaveLength(3);
    // Progress shows every objective of each trial.
    expect(lines.filter((l) => /^Trial \d+ COMPLETED .* accuracy: [\d.]+, cost: [\d.]+$/.test(l))).toHaveLength(12);
    await tuner.close();

    const view = await loadStudy({ directory: dir, projectName: 'random-front' });
    expect(view?.objective).toEqual({ name: 'accuracy', direction: 'max' });
    expect(view?.objectives).toEqual([
      { name: 'accuracy', direction: 'max' },
      { name: 'cost', direction: 'min' },
    ]);
    expect(view?.trials.every((t) => t.values?.length === 2 && t.score === t.values[0])).toBe(true);
  });

  it('ask-and-tell takes one number per objective; a missing objective makes the trial INVALID', async () => {
    const tuner = new RandomSearch(null, {
      directory: dir,
      projectName: 'ask-tell-front',
      overwrite: true,
      maxTrials: 3,
      seed: 1,
      verbose: 0,
      objective: [new Objective('error', 'min'), new Objective('size', 'min')],
    });
    const a = await tuner.ask();
    if (!a) throw new Error('ask() handed out no trial');
    a.hyperparameters.int('units', { minValue: 1, maxValue: 64 });
    const told = await tuner.tell(a, [0.1, 20]);
    expect(told.status).toBe('COMPLETED');
    expect(told.values).toEqual([0.1, 20]);
    const b = await tuner.ask();
    if (!b) throw new Error('ask() handed out no trial');
    await expect(tuner.tell(b, [0.1])).rejects.toThrow(/2 objective\(s\) \(error, size\)/);
    const c = await tuner.ask();
    if (!c) throw new Error('ask() handed out no trial');
    const invalid = await tuner.tell(c, { error: 0.2 });
    expect(invalid.status).toBe('FAILED'); // INVALID with no retries left
    expect(invalid.message).toMatch(/objective 'size' is missing/);
    expect((await tuner.oracle.getBestTrials()).map((t) => t.trialId)).toEqual([told.trialId]);
    await tuner.close();
  });
});

describe('a study written by the previous version', () => {
  it('opens; its trials read back with the first objective as score and every value, ranked by the front', async () => {
    // Written by the previous release: list objective [accuracy max, cost min], score = cost - accuracy.
    cpSync(path.join(fixtures, 'list-objective-v5'), path.join(dir, 'list-objective-v5'), { recursive: true });
    const tuner = new RandomSearch(null, {
      directory: dir,
      projectName: 'list-objective-v5',
      verbose: 0,
      objective: [new Objective('accuracy', 'max'), new Objective('cost', 'min')],
    });
    const trials = await tuner.oracle.getTrials();
    expect(trials).toHaveLength(6);
    for (const t of trials) {
      expect(t.score).toBe(t.metrics.accuracy);
      expect(t.values).toEqual([t.metrics.accuracy, t.metrics.cost]);
    }
    // Trial 1 (0.993, 0.38) dominates 2, 3, 4, 5; trial 0 (0.91, 0) is the cheapest.
    expect((await tuner.oracle.getBestTrials()).map((t) => t.trialId)).toEqual(['1', '0']);
    await tuner.close();
    const view = await loadStudy({ directory: dir, projectName: 'list-objective-v5' });
    expect(view?.objectives?.map((o) => o.name)).toEqual(['accuracy', 'cost']);
    expect(view?.trials.find((t) => t.trialId === '1')?.score).toBeCloseTo(0.9932, 4);
  });
});

describe('Pareto helpers', () => {
  it('non-dominated ranks, crowding distances and hypervolume on hand-made points', () => {
    const mins = [{ direction: 'min' as const }, { direction: 'min' as const }];
    const points = [
      [1, 5], // front 0
      [2, 3], // front 0
      [4, 1], // front 0
      [3, 4], // dominated by [2, 3]: front 1
      [5, 5], // dominated by [3, 4]: front 2
    ];
    expect(nonDominatedRanks(points, mins)).toEqual([0, 0, 0, 1, 2]);
    // Extremes infinite; the middle point: (4 - 1) / 3 + (5 - 1) / 4 = 2.
    expect(crowdingDistances(points.slice(0, 3))).toEqual([Infinity, 2, Infinity]);
    // Staircase up to (6, 6), by columns: x in [1,2) height 6-5 = 1; [2,4) 6-3 = 3; [4,6) 6-1 = 5
    // -> 1 + 6 + 10 = 17 (the dominated points add nothing).
    expect(hypervolume(points, [6, 6], mins)).toBeCloseTo(17, 12);
    // Maximising both, the same shape mirrored.
    const maxs = [{ direction: 'max' as const }, { direction: 'max' as const }];
    expect(
      hypervolume(
        points.map(([a, b]) => [-(a as number), -(b as number)]),
        [-6, -6],
        maxs,
      ),
    ).toBeCloseTo(17, 12);
    // Three objectives: one point is a box; two overlapping boxes by inclusion-exclusion.
    const m3 = [...mins, { direction: 'min' as const }];
    expect(hypervolume([[0, 0, 0]], [1, 2, 3], m3)).toBeCloseTo(6, 12);
    expect(
      hypervolume(
        [
          [0, 1, 0],
          [1, 0, 0],
        ],
        [2, 2, 2],
        m3,
      ),
    ).toBeCloseTo(4 + 4 - 2, 12);
    expect(hypervolume([[7, 7]], [6, 6], mins)).toBe(0); // beyond the reference
  });
});

/** DTLZ2 with two objectives on 4 variables (both minimised); its front is a quarter circle. */
function dtlz2(x: number[]): [number, number] {
  const g = x.slice(1).reduce((a, v) => a + (v - 0.5) ** 2, 0);
  const angle = ((x[0] as number) * Math.PI) / 2;
  return [(1 + g) * Math.cos(angle), (1 + g) * Math.sin(angle)];
}

function dtlz2Space(): HyperParameters {
  const hp = new HyperParameters();
  for (let i = 0; i < 4; i++) hp.float(`x${i}`, { minValue: 0, maxValue: 1 });
  return hp;
}

type TunerClass = new (hypermodel: null, options: TunerOptions & Record<string, unknown>) => Tuner;

const twoMins = () => [new Objective('f1', 'min'), new Objective('f2', 'min')];

async function dtlz2Search(kind: 'nsga2' | 'random' | 'bayesian', seed: number, maxTrials: number) {
  const Base: TunerClass = { nsga2: NSGA2, random: RandomSearch, bayesian: BayesianOptimization }[kind];
  const tuner = new (class extends Base {
    override async runTrial(trial: Trial): Promise<number[]> {
      return dtlz2([0, 1, 2, 3].map((i) => trial.hyperparameters.get(`x${i}`) as number));
    }
  })(null, {
    directory: dir,
    projectName: `dtlz2-${kind}-${seed}`,
    overwrite: true,
    maxTrials,
    seed,
    verbose: 0,
    hyperparameters: dtlz2Space(),
    objective: twoMins(),
  });
  await tuner.search();
  const trials = await tuner.oracle.getTrials();
  await tuner.close();
  return trials;
}

const hvOf = (trials: Trial[]) =>
  hypervolume(
    trials.flatMap((t) => (t.values ? [t.values] : [])),
    [1.1, 1.1],
    [{ direction: 'min' }, { direction: 'min' }],
  );

describe('NSGA-II', () => {
  it('is deterministic by seed and records generations', async () => {
    const a = await dtlz2Search('nsga2', 7, 30);
    const b = await dtlz2Search('nsga2', 7, 30);
    const c = await dtlz2Search('nsga2', 8, 30);
    const valuesOf = (ts: Trial[]) => ts.map((t) => t.hyperparameters.values);
    expect(valuesOf(a)).toEqual(valuesOf(b));
    expect(valuesOf(a)).not.toEqual(valuesOf(c));
    // 30 trials, population 8: generation 0 is the first 8, then children of later generations.
    const generations = a.map((t) => t.userData.generation as number);
    expect(generations.slice(0, 8)).toEqual(new Array(8).fill(0));
    expect(Math.max(...generations)).toBeGreaterThanOrEqual(3);
    expect(generations).toEqual([...generations].sort((x, y) => x - y));
  });

  it('finds a larger hypervolume than random search on DTLZ2 (same budget, 3 seeds each)', async () => {
    const nsga: number[] = [];
    const random: number[] = [];
    for (const seed of [1, 2, 3]) {
      nsga.push(hvOf(await dtlz2Search('nsga2', seed, 80)));
      random.push(hvOf(await dtlz2Search('random', seed, 80)));
    }
    const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
    expect(mean(nsga)).toBeGreaterThan(mean(random) * 1.15);
  });

  it('handles conditional hyperparameters and pending trials of several workers', async () => {
    const hp = new HyperParameters();
    hp.choice('model', ['linear', 'tree']);
    hp.float('alpha', { minValue: 1e-4, maxValue: 1, sampling: 'log', parentName: 'model', parentValues: ['linear'] });
    hp.int('depth', { minValue: 1, maxValue: 12, parentName: 'model', parentValues: ['tree'] });
    const tuner = new NSGA2(null, {
      directory: dir,
      projectName: 'nsga2-conditional',
      overwrite: true,
      maxTrials: 40,
      populationSize: 6,
      seed: 3,
      verbose: 0,
      hyperparameters: hp,
      objective: [new Objective('error', 'min'), new Objective('cost', 'min')],
    });
    const score = (v: Record<string, unknown>): number[] =>
      v.model === 'linear'
        ? [Math.abs(Math.log10(v.alpha as number) + 2) / 4, 1]
        : [1 / (v.depth as number), (v.depth as number) / 4];
    // Three "workers": ask three trials before telling any, so children are drawn while others run.
    for (let round = 0; round < 13; round++) {
      const asked = [await tuner.ask(), await tuner.ask(), await tuner.ask()].filter(
        (t): t is Trial => t?.status === 'RUNNING',
      );
      expect(new Set(asked.map((t) => JSON.stringify(t.hyperparameters.values))).size).toBe(asked.length);
      for (const t of asked) await tuner.tell(t, score(t.hyperparameters.values));
    }
    const trials = await tuner.oracle.getTrials();
    expect(trials.length).toBe(39);
    for (const t of trials) {
      const v = t.hyperparameters.values;
      expect(Object.keys(v).sort()).toEqual(v.model === 'linear' ? ['alpha', 'model'] : ['depth', 'model']);
    }
    expect(Math.max(...trials.map((t) => t.userData.generation as number))).toBeGreaterThanOrEqual(3);
    expect(new Set(trials.map((t) => valuesHash(t.hyperparameters.values))).size).toBe(trials.length);
    await tuner.close();
  });
});

describe('ParEGO (BayesianOptimization with a list objective)', () => {
  it('proposes from the GP on random scalarisations and returns the front', async () => {
    const trials = await dtlz2Search('bayesian', 4, 14);
    expect(trials).toHaveLength(14);
    const proposedBy = trials.map((t) => t.userData.proposedBy);
    expect(proposedBy.slice(0, 12).every((p) => p === 'random')).toBe(true); // 3 * 4 initial points
    expect(proposedBy.slice(12)).toEqual(['parego', 'parego']);
    expect(trials.every((t) => t.values?.length === 2)).toBe(true);
  });
});

describe('built-in metrics', () => {
  it('model_size, model_bytes and latency_ms are measured after fit when the objective names them', async () => {
    expect(BUILTIN_METRICS).toEqual(['model_size', 'model_bytes', 'latency_ms']);
    const { x, y } = toyData(120);
    const tuner = new NSGA2(buildMlp, {
      directory: dir,
      projectName: 'builtins',
      overwrite: true,
      maxTrials: 3,
      seed: 2,
      verbose: 0,
      latencyRuns: 5,
      // Directions inferred: accuracy up, size and latency down.
      objective: ['val_accuracy', 'model_size', 'latency_ms'],
    });
    await tuner.search(x, y, { epochs: 1, validationSplit: 0.25, batchSize: 32 });
    const trials = await tuner.oracle.getTrials();
    expect(trials).toHaveLength(3);
    for (const t of trials) {
      expect(t.status).toBe('COMPLETED');
      const units = t.hyperparameters.get('units') as number;
      const params = 12 * units + units + units * 3 + 3; // two dense layers with biases
      expect(t.metrics.model_size).toBe(params);
      expect(t.metrics.latency_ms).toBeGreaterThan(0);
      expect(Number.isFinite(t.metrics.latency_ms)).toBe(true);
      expect(t.metrics.model_bytes).toBeUndefined(); // not named by the objective: not measured
      expect(t.values).toEqual([t.metrics.val_acc, params, t.metrics.latency_ms]); // TF.js logs val_acc
    }
    const model = buildMlp(trials[0]?.hyperparameters.copy() as HyperParameters);
    const all = measureBuiltinMetrics(model, BUILTIN_METRICS, 3);
    expect(all.model_bytes).toBe(4 * model.countParams()); // float32 weights
    model.dispose();
    await tuner.close();
    x.dispose();
    y.dispose();
  });
});

describe('Hyperband with several objectives', () => {
  it('promotes non-dominated trials (least crowded first)', async () => {
    const tuner = new (class extends Hyperband {
      override async runTrial(trial: Trial): Promise<number[]> {
        const x = trial.hyperparameters.float('x', { minValue: 0, maxValue: 1 });
        const noise = trial.hyperparameters.float('noise', { minValue: 0, maxValue: 1 });
        return [x + noise, 1 - x + noise]; // the front: noise = 0
      }
    })(null, {
      directory: dir,
      projectName: 'hyperband-front',
      overwrite: true,
      maxEpochs: 9,
      factor: 3,
      seed: 6,
      verbose: 0,
      objective: twoMins(),
    });
    await tuner.search();
    const trials = await tuner.oracle.getTrials();
    const byId = new Map(trials.map((t) => [t.trialId, t]));
    const promoted = trials.filter((t) => hyperbandTrial(t)?.parentId !== undefined);
    expect(promoted.length).toBeGreaterThan(0);
    for (const child of promoted) {
      const info = hyperbandTrial(child) as { parentId: string; bracket: number; round: number };
      const parent = byId.get(info.parentId) as Trial;
      // No trial of the parent's round in that bracket that was still unpromoted dominates the parent.
      const earlier = new Set(
        promoted
          .filter((c) => c.trialId < child.trialId && hyperbandTrial(c)?.bracket === info.bracket)
          .map((c) => hyperbandTrial(c)?.parentId),
      );
      const peers = trials.filter((t) => {
        const h = hyperbandTrial(t);
        return h?.bracket === info.bracket && h.round === info.round - 1 && t.values && !earlier.has(t.trialId);
      });
      expect(peers).toContain(parent);
      for (const p of peers) {
        expect(dominates(p.values as number[], parent.values as number[], twoMins())).toBe(false);
      }
    }
    // Not simply the best first objective: somewhere the promoted parents differ from the k best by f1.
    const groups = new Map<string, Trial[]>();
    for (const child of promoted) {
      const info = hyperbandTrial(child) as { parentId: string; bracket: number; round: number };
      const key = `${info.bracket}/${info.round}`;
      groups.set(key, [...(groups.get(key) ?? []), byId.get(info.parentId) as Trial]);
    }
    const differs = [...groups].some(([key, parents]) => {
      const [bracket, round] = key.split('/').map(Number);
      const peers = trials.filter((t) => {
        const h = hyperbandTrial(t);
        return h?.bracket === bracket && h?.round === (round as number) - 1 && t.values;
      });
      const byF1 = peers.sort((a, b) => (a.values?.[0] as number) - (b.values?.[0] as number)).slice(0, parents.length);
      return byF1.some((t) => !parents.includes(t));
    });
    expect(differs).toBe(true);
    await tuner.close();
  });
});
