import { describe, expect, it } from 'vitest';
import {
  acquisitionValue,
  createRandom,
  GaussianProcess,
  matern52,
  minimize,
  optimizeAcquisition,
} from '../src/gp/index.js';

const grid = (n: number) => Array.from({ length: n }, (_, i) => i / (n - 1));

describe('bounded L-BFGS', () => {
  it('finds the minimum of the Rosenbrock function', () => {
    const r = minimize(
      (x, g) => {
        const a = x[0] as number;
        const b = x[1] as number;
        g[0] = -2 * (1 - a) - 400 * a * (b - a * a);
        g[1] = 200 * (b - a * a);
        return (1 - a) ** 2 + 100 * (b - a * a) ** 2;
      },
      [-1.2, 1],
      { lower: [-2, -2], upper: [2, 2], maxIterations: 500, functionTolerance: 0 },
    );
    expect(r.x[0]).toBeCloseTo(1, 3);
    expect(r.x[1]).toBeCloseTo(1, 3);
  });

  it('stops on the bound when the unconstrained minimum lies outside the box', () => {
    const r = minimize(
      (x, g) => {
        g[0] = 2 * ((x[0] as number) - 3);
        g[1] = 2 * ((x[1] as number) + 0.5);
        return ((x[0] as number) - 3) ** 2 + ((x[1] as number) + 0.5) ** 2;
      },
      [0.5, 0.5],
      { lower: [0, 0], upper: [1, 1] },
    );
    expect(Array.from(r.x)).toEqual([1, 0]);
  });
});

describe('Gaussian process', () => {
  it('interpolates its data, with variance shrinking at the data and growing away from it', () => {
    const xs = [0.05, 0.2, 0.35, 0.5, 0.65, 0.8];
    const f = (x: number) => Math.sin(8 * x) + 0.5 * x;
    const gp = GaussianProcess.fit(
      xs.map((x) => [x]),
      xs.map(f),
      { random: createRandom(3) },
    );
    for (const x of xs) {
      const p = gp.predict([x]);
      expect(Math.abs(p.mean - f(x))).toBeLessThan(0.02);
      expect(p.std).toBeLessThan(0.05);
    }
    // Between data points the mean still tracks the smooth function; far outside, it is uncertain.
    expect(Math.abs(gp.predict([0.425]).mean - f(0.425))).toBeLessThan(0.15);
    const far = gp.predict([1]);
    expect(far.std).toBeGreaterThan(5 * gp.predict([0.5]).std);
    expect(far.std).toBeGreaterThan(0.1);
  });

  it('gives analytic gradients of the posterior mean and std that match finite differences', () => {
    const random = createRandom(11);
    const xs = Array.from({ length: 12 }, () => [random(), random(), random()]);
    const ys = xs.map(([a, b, c]) => Math.cos(3 * (a as number)) + (b as number) ** 2 - (c as number));
    const gp = GaussianProcess.fit(xs, ys, { random });
    const at = [0.31, 0.62, 0.47];
    const gm = new Float64Array(3);
    const gs = new Float64Array(3);
    gp.predictNormalized(at, gm, gs);
    const h = 1e-6;
    for (let k = 0; k < 3; k++) {
      const up = [...at];
      const down = [...at];
      up[k] = (up[k] as number) + h;
      down[k] = (down[k] as number) - h;
      const pu = gp.predictNormalized(up);
      const pd = gp.predictNormalized(down);
      expect(gm[k]).toBeCloseTo((pu.mean - pd.mean) / (2 * h), 4);
      expect(gs[k]).toBeCloseTo((pu.std - pd.std) / (2 * h), 4);
    }
  });

  it('recovers the length scale of data drawn from a Matern 5/2 GP (maximum likelihood)', () => {
    // Draw one sample path with a known length scale through the Cholesky factor of its kernel.
    const trueScale = 0.15;
    const xs = grid(60);
    const n = xs.length;
    const k = xs.map((a) => xs.map((b) => matern52([a], [b], { lengthScales: [trueScale], signalVariance: 1 })));
    for (let i = 0; i < n; i++) (k[i] as number[])[i] = ((k[i] as number[])[i] as number) + 1e-8;
    const lower = xs.map(() => new Array<number>(n).fill(0));
    for (let i = 0; i < n; i++) {
      for (let j = 0; j <= i; j++) {
        let s = (k[i] as number[])[j] as number;
        for (let m = 0; m < j; m++) s -= (lower[i]?.[m] as number) * (lower[j]?.[m] as number);
        (lower[i] as number[])[j] = i === j ? Math.sqrt(s) : s / (lower[j]?.[j] as number);
      }
    }
    const estimates: number[] = [];
    for (const seed of [1, 2, 3]) {
      const random = createRandom(seed);
      const z = xs.map(() => {
        const u = Math.max(random(), 1e-12);
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
      });
      const ys = lower.map((row) => row.reduce((s, v, j) => s + v * (z[j] as number), 0));
      const gp = GaussianProcess.fit(
        xs.map((x) => [x]),
        ys,
        { random },
      );
      estimates.push(gp.params.lengthScales[0] as number);
    }
    estimates.sort((a, b) => a - b);
    const median = estimates[1] as number;
    expect(median).toBeGreaterThan(trueScale / 1.6);
    expect(median).toBeLessThan(trueScale * 1.6);
  });

  it('gives an irrelevant dimension a much longer length scale (ARD)', () => {
    const random = createRandom(5);
    const xs = Array.from({ length: 30 }, () => [random(), random()]);
    const ys = xs.map(([a]) => Math.sin(6 * (a as number)));
    const gp = GaussianProcess.fit(xs, ys, { random });
    const [relevant, irrelevant] = gp.params.lengthScales as number[];
    expect(irrelevant).toBeGreaterThan(5 * (relevant as number));
  });

  it('rejects malformed data with a clear error', () => {
    expect(() => GaussianProcess.fit([], [])).toThrow(/zero points/);
    expect(() => GaussianProcess.fit([[0.1]], [1, 2])).toThrow(/1 points but 2 targets/);
    expect(() => GaussianProcess.fit([[0.1], [0.2, 0.3]], [1, 2])).toThrow(/point 1 has 2 dimensions/);
    expect(() => GaussianProcess.fit([[0.1], [0.2]], [1, Number.NaN])).toThrow(/finite/);
  });
});

describe('acquisition', () => {
  // Observations on the left half only; the target falls towards x = 0.
  const xs = [0.05, 0.15, 0.25, 0.35, 0.45];
  const ys = xs.map((x) => 2 * x);
  const fit = () =>
    GaussianProcess.fit(
      xs.map((x) => [x]),
      ys,
      { random: createRandom(2), fixed: { lengthScales: [0.2], signalVariance: 1 } },
    );

  it('UCB (mu - beta*sigma) exploits with a small beta and explores the unseen half with a large one', () => {
    const gp = fit();
    const exploit = optimizeAcquisition(gp, { kind: 'ucb', beta: 0 }, { random: createRandom(1) })[0];
    expect(exploit?.x[0]).toBeLessThan(0.1);
    const explore = optimizeAcquisition(gp, { kind: 'ucb', beta: 10 }, { random: createRandom(1) })[0];
    expect(explore?.x[0]).toBeGreaterThan(0.7);
  });

  it('EI is zero-ish where the model is sure and bad, and largest near the incumbent or in the unknown', () => {
    const gp = fit();
    const spec = { kind: 'ei' as const, beta: 0, incumbent: Math.min(...ys) };
    const atBadData = Math.exp(-acquisitionValue(gp, [0.45], spec)); // the value is -log(EI)
    const nearBest = Math.exp(-acquisitionValue(gp, [0.0], spec));
    expect(atBadData).toBeLessThan(1e-3);
    expect(nearBest).toBeGreaterThan(10 * atBadData);
    const best = optimizeAcquisition(gp, spec, { random: createRandom(4) })[0];
    expect(best?.x[0] !== undefined && (best.x[0] < 0.05 || best.x[0] > 0.6)).toBe(true);
  });

  it('log EI stays finite and ordered deep in the tail, with gradients matching finite differences', () => {
    const gp = fit();
    const spec = { kind: 'ei' as const, beta: 0, incumbent: Math.min(...ys) };
    // At the worst data point improvement is hopeless (plain EI underflows to 0), yet the ranking survives.
    const worst = acquisitionValue(gp, [0.45], spec);
    const nearWorst = acquisitionValue(gp, [0.42], spec);
    expect(Number.isFinite(worst)).toBe(true);
    expect(worst).toBeGreaterThan(nearWorst);
    for (const at of [0.0, 0.12, 0.3, 0.44, 0.8]) {
      for (const kind of ['ei', 'ucb'] as const) {
        const s = { ...spec, kind, beta: 2 };
        const g = new Float64Array(1);
        acquisitionValue(gp, [at], s, g);
        const h = 1e-6;
        const numeric = (acquisitionValue(gp, [at + h], s) - acquisitionValue(gp, [at - h], s)) / (2 * h);
        expect(Math.abs((g[0] as number) - numeric)).toBeLessThan(1e-4 * Math.max(1, Math.abs(numeric)));
      }
    }
  });

  it('returns candidates sorted best first, refined ones included', () => {
    const gp = fit();
    const list = optimizeAcquisition(gp, { kind: 'ucb', beta: 2.6 }, { random: createRandom(9), samples: 200 });
    expect(list.length).toBeGreaterThanOrEqual(200);
    for (let i = 1; i < list.length; i++) expect(list[i]?.value).toBeGreaterThanOrEqual(list[i - 1]?.value as number);
    for (const c of list) expect(c.x[0]).toBeGreaterThanOrEqual(0);
  });
});
