/**
 * Search quality: median simple regret (best value found minus the known minimum) after `--evals`
 * evaluations over `--seeds` seeds on standard test functions. Each search is a real tuner (SQLite
 * study in the run's throwaway folder) whose runTrial evaluates the function.
 * Target: BayesianOptimization's median regret <= 1/10 of RandomSearch's on every problem.
 */
import {
  BayesianOptimization,
  HyperParameters,
  RandomSearch,
  TPE,
  type TPEOptions,
  type Trial,
  type Tuner,
} from '@tuneserve/tuner';
import { ensureOptuna, type OptunaSampler, runOptuna } from './optuna.js';
import { type Problem, problems } from './problems.js';
import { type Flags, fmt, intFlag, median, printTable, type Section, type SectionContext } from './section.js';

interface Settings {
  evals: number;
  /** BayesianOptimization's numInitialPoints: a number, 'dims+2', or 'default' (the library's max(3 * dims, 3)). */
  initialPoints: number | 'dims+2' | 'default';
  acquisition: 'ucb' | 'ei';
  /** Our TPE's options (--tpe-multivariate). */
  tpe: TPEOptions;
  directory: string;
}

/** One of our searches: its label and a tuner (with `runTrial` evaluating the problem) to run. */
interface Algorithm {
  label: string;
  create(problem: Problem, seed: number, settings: Settings): Tuner;
}

function space(problem: Problem): HyperParameters {
  const hp = new HyperParameters();
  problem.bounds.forEach(([minValue, maxValue], i) => {
    hp.float(`x${i}`, { minValue, maxValue });
  });
  return hp;
}

function baseOptions(name: string, problem: Problem, seed: number, settings: Settings) {
  return {
    hyperparameters: space(problem),
    maxTrials: settings.evals,
    seed,
    directory: settings.directory,
    projectName: `${name}-${problem.name}-${seed}`,
    overwrite: true,
    verbose: 0 as const,
  };
}

const pointOf = (problem: Problem, trial: Trial) =>
  problem.bounds.map((_, i) => trial.hyperparameters.get(`x${i}`) as number);

const ALGORITHMS: Algorithm[] = [
  {
    label: 'Random',
    create: (problem, seed, settings) =>
      new (class extends RandomSearch {
        override async runTrial(trial: Trial) {
          return problem.evaluate(pointOf(problem, trial));
        }
      })(null, baseOptions('random', problem, seed, settings)),
  },
  {
    label: 'GP',
    create: (problem, seed, settings) =>
      new (class extends BayesianOptimization {
        override async runTrial(trial: Trial) {
          return problem.evaluate(pointOf(problem, trial));
        }
      })(null, {
        ...baseOptions('gp', problem, seed, settings),
        acquisition: settings.acquisition,
        ...initialPointsOption(settings.initialPoints, problem),
      }),
  },
  {
    label: 'TPE',
    create: (problem, seed, settings) =>
      new (class extends TPE {
        override async runTrial(trial: Trial) {
          return problem.evaluate(pointOf(problem, trial));
        }
      })(null, { ...baseOptions('tpe', problem, seed, settings), ...settings.tpe }),
  },
];

function initialPointsOption(setting: Settings['initialPoints'], problem: Problem): { numInitialPoints?: number } {
  if (setting === 'default') return {};
  return { numInitialPoints: setting === 'dims+2' ? problem.bounds.length + 2 : setting };
}

/** One search of `evals` evaluations; returns its simple regret. */
async function regretOf(algorithm: Algorithm, problem: Problem, seed: number, settings: Settings): Promise<number> {
  const tuner = algorithm.create(problem, seed, settings);
  try {
    await tuner.search();
    const [best] = await tuner.oracle.getBestTrials(1);
    if (best?.score === null || best?.score === undefined)
      throw new Error(`${algorithm.label} on ${problem.name}: no result`);
    return best.score - problem.minimum;
  } finally {
    await tuner.close();
  }
}

function parseSettings(flags: Flags, directory: string): Settings {
  const evals = intFlag(flags, 'evals', 2);
  const acquisition = flags.acquisition;
  if (acquisition !== 'ucb' && acquisition !== 'ei') {
    throw new Error(`--acquisition must be ucb or ei, got ${String(acquisition)}`);
  }
  const raw = String(flags['initial-points']);
  const initialPoints = raw === 'dims+2' || raw === 'default' ? raw : Number(raw);
  if (typeof initialPoints === 'number' && !(Number.isInteger(initialPoints) && initialPoints >= 1)) {
    throw new Error(`--initial-points must be a positive integer, 'dims+2' or 'default', got ${raw}`);
  }
  const multivariate = flags['tpe-multivariate'];
  if (multivariate !== 'true' && multivariate !== 'false') {
    throw new Error(`--tpe-multivariate must be true or false, got ${String(multivariate)}`);
  }
  return { evals, initialPoints, acquisition, tpe: { multivariate: multivariate === 'true' }, directory };
}

export function chosenProblems(flags: Flags): Problem[] {
  return String(flags.problems)
    .split(',')
    .map((name) => {
      const p = problems[name.trim()];
      if (!p) throw new Error(`unknown problem '${name}' (known: ${Object.keys(problems).join(', ')})`);
      return p;
    });
}

const PEERS: { label: string; sampler: OptunaSampler }[] = [
  { label: 'Optuna TPE', sampler: 'tpe' },
  { label: 'Optuna TPE multivariate', sampler: 'tpe-multivariate' },
  { label: 'Optuna random', sampler: 'random' },
];

export const quality: Section = {
  name: 'quality',
  options: {
    seeds: { type: 'string', default: '20' },
    evals: { type: 'string', default: '40' },
    problems: { type: 'string', default: 'branin,hartmann6' },
    acquisition: { type: 'string', default: 'ei' },
    'initial-points': { type: 'string', default: 'dims+2' },
    'tpe-multivariate': { type: 'string', default: 'true' },
    peer: { type: 'string', default: 'optuna' },
    verbose: { type: 'boolean', default: false },
  },
  async run(flags: Flags, context: SectionContext) {
    const seeds = intFlag(flags, 'seeds');
    const settings = parseSettings(flags, context.directory);
    if (flags.peer !== 'optuna' && flags.peer !== 'none')
      throw new Error(`--peer must be optuna or none, got ${String(flags.peer)}`);
    const withPeer = flags.peer === 'optuna';
    if (withPeer) ensureOptuna();
    console.log(
      `\n== search quality: median simple regret, ${seeds} seeds x ${settings.evals} evaluations ==\n` +
        `GP = BayesianOptimization (acquisition '${settings.acquisition}', numInitialPoints ` +
        `${settings.initialPoints === 'default' ? 'default (max(3 * dims, 3))' : settings.initialPoints}); ` +
        `TPE = ours (${settings.tpe.multivariate ? 'multivariate' : 'univariate'}, defaults otherwise)`,
    );
    const rows: string[][] = [];
    let met = true;
    let version = '';
    for (const problem of chosenProblems(flags)) {
      const regrets = new Map<string, number[]>(ALGORITHMS.map((a) => [a.label, []]));
      const seconds = new Map<string, number>(ALGORITHMS.map((a) => [a.label, 0]));
      for (let seed = 1; seed <= seeds; seed++) {
        for (const algorithm of ALGORITHMS) {
          const start = performance.now();
          regrets.get(algorithm.label)?.push(await regretOf(algorithm, problem, seed, settings));
          seconds.set(algorithm.label, (seconds.get(algorithm.label) ?? 0) + (performance.now() - start) / 1000);
        }
        process.stdout.write(`\r  ${problem.name}: seed ${seed}/${seeds}`);
      }
      process.stdout.write('\n');
      if (withPeer) {
        for (const peer of PEERS) {
          const run = runOptuna(
            problem,
            peer.sampler,
            Array.from({ length: seeds }, (_, i) => i + 1),
            settings.evals,
          );
          version = run.version;
          regrets.set(
            peer.label,
            run.best.map((v) => v - problem.minimum),
          );
          seconds.set(peer.label, run.seconds);
        }
      }
      if (flags.verbose) {
        for (const [label, values] of regrets) console.log(`  ${label} regrets: ${values.map(fmt).join(' ')}`);
      }
      const random = median(regrets.get('Random') ?? []);
      const optunaTpe = withPeer ? median(regrets.get('Optuna TPE') ?? []) : Number.NaN;
      for (const [label, values] of regrets) {
        const value = median(values);
        const vsRandom = value / random;
        const vsOptuna = value / optunaTpe;
        let target = '';
        if (label === 'GP') {
          const ok = vsRandom <= 0.1;
          met &&= ok;
          target = `<= 0.1x Random: ${ok ? 'yes' : 'NO'}`;
        } else if (label === 'TPE') {
          const ok = withPeer && vsOptuna <= 1;
          if (withPeer) met &&= ok;
          target = withPeer ? `<= Optuna TPE: ${ok ? 'yes' : 'NO'}` : 'vs Optuna TPE: not run (--peer none)';
        }
        rows.push([
          problem.name,
          label,
          fmt(value),
          `${vsRandom.toFixed(3)}x`,
          withPeer ? `${vsOptuna.toFixed(3)}x` : '-',
          ((seconds.get(label) ?? 0) / seeds).toFixed(2),
          target,
        ]);
      }
    }
    if (withPeer) console.log(`peer: Optuna ${version} (Debian python3-optuna), same seeds and evaluations`);
    printTable(['problem', 'search', 'median regret', 'vs Random', 'vs Optuna TPE', 's per search', 'target'], rows);
    return { met };
  },
};
