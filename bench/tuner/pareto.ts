/**
 * Multi-objective search: hypervolume of the front found after `--mo-evals` evaluations, median
 * over `--mo-seeds` seeds, on ZDT1 (6 variables) and a 2-objective DTLZ2 (6 variables). Ours:
 * NSGA2, BayesianOptimization with a list objective (ParEGO), TPE (MOTPE, no target) and RandomSearch, each a real tuner
 * on a SQLite study; Optuna's NSGAIISampler and TPESampler (MOTPE with several objectives) run in
 * Debian's python3-optuna, installed on demand. Every hypervolume is computed by the same function
 * (the library's `hypervolume`) from the evaluated points.
 * Targets: NSGA2 >= Optuna NSGA-II and ParEGO >= Optuna MOTPE (median hypervolume) on every problem.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  BayesianOptimization,
  HyperParameters,
  hypervolume,
  NSGA2,
  Objective,
  RandomSearch,
  TPE,
  type Trial,
  type Tuner,
} from '@tuneserve/tuner';
import { ensureOptuna } from './optuna.js';
import { type ParetoProblem, paretoProblems } from './pareto-problems.js';
import { type Flags, fmt, intFlag, median, printTable, type Section, type SectionContext } from './section.js';

const PYTHON = '/usr/bin/python3';
const MINIMISE = [{ direction: 'min' as const }, { direction: 'min' as const }];

interface Ours {
  label: string;
  create(problem: ParetoProblem, seed: number, evals: number, directory: string): Tuner;
}

function tunerOptions(name: string, problem: ParetoProblem, seed: number, evals: number, directory: string) {
  const hp = new HyperParameters();
  for (let i = 0; i < problem.dims; i++) hp.float(`x${i}`, { minValue: 0, maxValue: 1 });
  return {
    hyperparameters: hp,
    objective: [new Objective('f1', 'min'), new Objective('f2', 'min')],
    maxTrials: evals,
    seed,
    directory,
    projectName: `${name}-${problem.name}-${seed}`,
    overwrite: true,
    verbose: 0 as const,
  };
}

/** runTrial for a problem: one number per objective. */
const evaluate = (problem: ParetoProblem, trial: Trial) =>
  problem.evaluate(Array.from({ length: problem.dims }, (_, i) => trial.hyperparameters.get(`x${i}`) as number));

const OURS: Ours[] = [
  {
    label: 'NSGA2',
    create: (problem, seed, evals, directory) =>
      new (class extends NSGA2 {
        override async runTrial(trial: Trial) {
          return evaluate(problem, trial);
        }
      })(null, tunerOptions('nsga2', problem, seed, evals, directory)),
  },
  {
    label: 'ParEGO',
    create: (problem, seed, evals, directory) =>
      new (class extends BayesianOptimization {
        override async runTrial(trial: Trial) {
          return evaluate(problem, trial);
        }
      })(null, tunerOptions('parego', problem, seed, evals, directory)),
  },
  {
    label: 'MOTPE',
    create: (problem, seed, evals, directory) =>
      new (class extends TPE {
        override async runTrial(trial: Trial) {
          return evaluate(problem, trial);
        }
      })(null, tunerOptions('motpe', problem, seed, evals, directory)),
  },
  {
    label: 'Random',
    create: (problem, seed, evals, directory) =>
      new (class extends RandomSearch {
        override async runTrial(trial: Trial) {
          return evaluate(problem, trial);
        }
      })(null, tunerOptions('random', problem, seed, evals, directory)),
  },
];

async function oursHypervolume(
  algorithm: Ours,
  problem: ParetoProblem,
  seed: number,
  evals: number,
  directory: string,
) {
  const tuner = algorithm.create(problem, seed, evals, directory);
  try {
    await tuner.search();
    const points = (await tuner.oracle.getTrials()).flatMap((t) => (t.values ? [t.values] : []));
    if (points.length !== evals)
      throw new Error(`${algorithm.label} on ${problem.name}: ${points.length} of ${evals} evaluations`);
    return hypervolume(points, problem.reference, MINIMISE);
  } finally {
    await tuner.close();
  }
}

/** Optuna is importable, after installing Debian's python3-optuna if needed; false when it cannot be. */
function optunaAvailable(): boolean {
  try {
    ensureOptuna();
    return true;
  } catch (err) {
    console.log(err instanceof Error ? err.message : String(err));
    return false;
  }
}

function optunaHypervolumes(
  sampler: 'nsga2' | 'motpe',
  problem: ParetoProblem,
  seeds: number[],
  evals: number,
): number[] {
  const script = fileURLToPath(new URL('../optuna-pareto.py', import.meta.url));
  const out = execFileSync(PYTHON, [script, problem.name, sampler, String(evals), ...seeds.map(String)], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return out
    .trim()
    .split('\n')
    .map((line) => {
      const { values } = JSON.parse(line) as { values: [number, number][] };
      if (values.length !== evals)
        throw new Error(`Optuna ${sampler} on ${problem.name}: ${values.length} of ${evals} evaluations`);
      return hypervolume(values, problem.reference, MINIMISE);
    });
}

export const pareto: Section = {
  name: 'pareto',
  options: {
    'mo-seeds': { type: 'string', default: '10' },
    'mo-evals': { type: 'string', default: '100' },
    'mo-problems': { type: 'string', default: 'zdt1,dtlz2' },
  },
  async run(flags: Flags, context: SectionContext) {
    const seeds = Array.from({ length: intFlag(flags, 'mo-seeds') }, (_, i) => i + 1);
    const evals = intFlag(flags, 'mo-evals', 2);
    const chosen = String(flags['mo-problems'])
      .split(',')
      .map((name) => {
        const p = paretoProblems[name.trim()];
        if (!p) throw new Error(`unknown problem '${name}' (known: ${Object.keys(paretoProblems).join(', ')})`);
        return p;
      });
    console.log(
      `\n== multi-objective: median hypervolume of the evaluated points, ${seeds.length} seeds x ${evals} evaluations ==\n` +
        'reference points: ' +
        chosen.map((p) => `${p.name} (${p.reference.join(', ')})`).join(', '),
    );
    const optuna = optunaAvailable();
    if (!optuna) console.log('Optuna could not be installed: its rows are missing and the targets count as not met.');
    const rows: string[][] = [];
    let met = optuna;
    for (const problem of chosen) {
      const results = new Map<string, { hv: number[]; seconds: number }>();
      for (const algorithm of OURS) {
        const hv: number[] = [];
        const start = performance.now();
        for (const seed of seeds) {
          hv.push(await oursHypervolume(algorithm, problem, seed, evals, context.directory));
          process.stdout.write(`\r  ${problem.name} ${algorithm.label}: seed ${seed}/${seeds.length}   `);
        }
        results.set(algorithm.label, { hv, seconds: (performance.now() - start) / 1000 / seeds.length });
      }
      if (optuna) {
        for (const [label, sampler] of [
          ['Optuna NSGA-II', 'nsga2'],
          ['Optuna MOTPE', 'motpe'],
        ] as const) {
          process.stdout.write(`\r  ${problem.name} ${label}...              `);
          const start = performance.now();
          const hv = optunaHypervolumes(sampler, problem, seeds, evals);
          results.set(label, { hv, seconds: (performance.now() - start) / 1000 / seeds.length });
        }
      }
      process.stdout.write('\n');
      const med = (label: string) => median(results.get(label)?.hv ?? [Number.NaN]);
      const targets: Record<string, string> = { NSGA2: 'Optuna NSGA-II', ParEGO: 'Optuna MOTPE' };
      for (const [label, { hv, seconds }] of results) {
        const value = median(hv);
        let target = '';
        const peer = targets[label];
        if (peer && optuna) {
          const ok = value >= med(peer);
          met &&= ok;
          target = `>= ${peer}: ${ok ? 'yes' : 'NO'}`;
        }
        rows.push([
          problem.name,
          label,
          fmt(value),
          optuna ? `${(value / med('Optuna NSGA-II')).toFixed(3)}x` : '-',
          optuna ? `${(value / med('Optuna MOTPE')).toFixed(3)}x` : '-',
          seconds.toFixed(2),
          target,
        ]);
      }
    }
    printTable(
      ['problem', 'search', 'median hypervolume', 'vs Optuna NSGA-II', 'vs Optuna MOTPE', 's per search', 'target'],
      rows,
    );
    return { met };
  },
};
