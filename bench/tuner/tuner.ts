/**
 * npm run bench:tuner -- [--seeds 20] [--evals 40] [--problems branin,hartmann6] [--acquisition ei|ucb]
 *                        [--initial-points dims+2|default|N] [--verbose]
 *
 * Median simple regret (best value found minus the known minimum) of BayesianOptimization and
 * RandomSearch on standard test functions, each run through a real tuner (SQLite study in a throwaway
 * folder under the OS temp dir) with runTrial overridden to evaluate the function.
 * Target: BayesianOptimization's median regret <= 1/10 of RandomSearch's on every problem.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BayesianOptimization, HyperParameters, RandomSearch, type Trial, type Tuner } from '@tuneserve/tuner';
import { type Problem, problems } from './problems.js';

type Algorithm = 'random' | 'bayesian';

interface RunSettings {
  evals: number;
  /** BayesianOptimization's numInitialPoints: a number, 'dims+2', or 'default' (the library's max(3 * dims, 3)). */
  initialPoints: number | 'dims+2' | 'default';
  acquisition: 'ucb' | 'ei';
  directory: string;
}

function space(problem: Problem): HyperParameters {
  const hp = new HyperParameters();
  problem.bounds.forEach(([minValue, maxValue], i) => {
    hp.float(`x${i}`, { minValue, maxValue });
  });
  return hp;
}

/** One search of `evals` evaluations; returns its simple regret. */
async function runOnce(algorithm: Algorithm, problem: Problem, seed: number, settings: RunSettings): Promise<number> {
  const options = {
    hyperparameters: space(problem),
    maxTrials: settings.evals,
    seed,
    directory: settings.directory,
    projectName: `${algorithm}-${problem.name}-${seed}`,
    overwrite: true,
    verbose: 0 as const,
  };
  const evaluate = (trial: Trial) =>
    problem.evaluate(problem.bounds.map((_, i) => trial.hyperparameters.get(`x${i}`) as number));
  // A tuner that evaluates the test function instead of training a model.
  const tuner: Tuner =
    algorithm === 'random'
      ? new (class extends RandomSearch {
          override async runTrial(trial: Trial) {
            return evaluate(trial);
          }
        })(null, options)
      : new (class extends BayesianOptimization {
          override async runTrial(trial: Trial) {
            return evaluate(trial);
          }
        })(null, {
          ...options,
          acquisition: settings.acquisition,
          ...initialPointsOption(settings.initialPoints, problem),
        });
  try {
    await tuner.search();
    const [best] = await tuner.oracle.getBestTrials(1);
    if (best?.score === null || best?.score === undefined)
      throw new Error(`${algorithm} on ${problem.name}: no result`);
    return best.score - problem.minimum;
  } finally {
    await tuner.close();
  }
}

function initialPointsOption(setting: RunSettings['initialPoints'], problem: Problem): { numInitialPoints?: number } {
  if (setting === 'default') return {};
  return { numInitialPoints: setting === 'dims+2' ? problem.bounds.length + 2 : setting };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

const fmt = (v: number) => (v === 0 ? '0' : Math.abs(v) < 1e-3 ? v.toExponential(2) : v.toFixed(4));

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seeds: { type: 'string', default: '20' },
      evals: { type: 'string', default: '40' },
      problems: { type: 'string', default: 'branin,hartmann6' },
      acquisition: { type: 'string', default: 'ei' },
      'initial-points': { type: 'string', default: 'dims+2' },
      verbose: { type: 'boolean', default: false },
    },
  });
  const seeds = Number(values.seeds);
  const evals = Number(values.evals);
  if (!Number.isInteger(seeds) || seeds < 1) throw new Error(`--seeds must be a positive integer, got ${values.seeds}`);
  if (!Number.isInteger(evals) || evals < 2) throw new Error(`--evals must be an integer >= 2, got ${values.evals}`);
  if (values.acquisition !== 'ucb' && values.acquisition !== 'ei') {
    throw new Error(`--acquisition must be ucb or ei, got ${values.acquisition}`);
  }
  const chosen = values.problems.split(',').map((name) => {
    const p = problems[name.trim()];
    if (!p) throw new Error(`unknown problem '${name}' (known: ${Object.keys(problems).join(', ')})`);
    return p;
  });
  const directory = mkdtempSync(path.join(tmpdir(), 'tuneserve-bench-tuner-'));
  const rawInitial = values['initial-points'];
  const initialPoints = rawInitial === 'dims+2' || rawInitial === 'default' ? rawInitial : Number(rawInitial);
  if (typeof initialPoints === 'number' && !(Number.isInteger(initialPoints) && initialPoints >= 1)) {
    throw new Error(`--initial-points must be a positive integer, 'dims+2' or 'default', got ${rawInitial}`);
  }
  const settings: RunSettings = { evals, initialPoints, acquisition: values.acquisition, directory };
  console.log(
    `bench:tuner: ${seeds} seeds x ${evals} evaluations per search; BayesianOptimization: acquisition ` +
      `'${settings.acquisition}', numInitialPoints ${initialPoints === 'default' ? 'default (max(3 * dims, 3))' : initialPoints}`,
  );
  const rows: string[][] = [];
  let allMet = true;
  try {
    for (const problem of chosen) {
      const regrets: Record<Algorithm, number[]> = { random: [], bayesian: [] };
      const seconds: Record<Algorithm, number> = { random: 0, bayesian: 0 };
      for (let seed = 1; seed <= seeds; seed++) {
        for (const algorithm of ['random', 'bayesian'] as const) {
          const start = performance.now();
          regrets[algorithm].push(await runOnce(algorithm, problem, seed, settings));
          seconds[algorithm] += (performance.now() - start) / 1000;
        }
        process.stdout.write(`\r  ${problem.name}: seed ${seed}/${seeds}`);
      }
      process.stdout.write('\n');
      if (values.verbose) {
        for (const algorithm of ['random', 'bayesian'] as const) {
          console.log(`  ${algorithm} regrets: ${regrets[algorithm].map(fmt).join(' ')}`);
        }
      }
      const random = median(regrets.random);
      const bayesian = median(regrets.bayesian);
      const ratio = random > 0 ? bayesian / random : Number.NaN;
      const met = ratio <= 0.1;
      allMet &&= met;
      rows.push([
        problem.name,
        fmt(random),
        fmt(bayesian),
        ratio.toFixed(3),
        met ? 'yes' : 'NO',
        `${(seconds.random / seeds).toFixed(2)} / ${(seconds.bayesian / seeds).toFixed(2)}`,
      ]);
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
  const header = [
    'problem',
    'RandomSearch median regret',
    'BayesianOptimization median regret',
    'ratio BO/Random',
    '<= 0.1',
    's per search (Random / BO)',
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ');
  console.log(line(header));
  for (const r of rows) console.log(line(r));
  console.log(allMet ? 'target met on every problem' : 'target NOT met on every problem');
  if (!allMet) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 2;
});
