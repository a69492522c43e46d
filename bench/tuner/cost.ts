/**
 * Suggestion cost: seconds per `ask()` (the oracle's whole decision, storage round trip included)
 * on a study that already holds N finished trials of Hartmann-6, for RandomSearch, the GP
 * (BayesianOptimization) and TPE. Random's time is the bookkeeping every tuner pays.
 * Target: BayesianOptimization stays under 1 s per suggestion at 200 finished trials: its GP hands
 * over to TPE past `tpeAfter` (150); the GP without hand-over is printed beside it.
 */
import {
  BayesianOptimization,
  HyperParameters,
  type Oracle,
  RandomSearch,
  TPE,
  type Trial,
  type Tuner,
} from '@tuneserve/tuner';
import { hartmann6 } from './problems.js';
import { type Flags, intFlag, median, printTable, type Section, type SectionContext } from './section.js';

/** GP: BayesianOptimization kept on its GP (tpeAfter Infinity); BO: its default, TPE past 150 trials. */
type Kind = 'Random' | 'GP' | 'BO' | 'TPE';
const KINDS: Kind[] = ['Random', 'GP', 'BO', 'TPE'];
const HEADERS: Record<Kind, string> = {
  Random: 'RandomSearch',
  GP: 'GP (no hand-over)',
  BO: 'BayesianOptimization',
  TPE: 'TPE',
};

function space(): HyperParameters {
  const hp = new HyperParameters();
  hartmann6.bounds.forEach(([minValue, maxValue], i) => {
    hp.float(`x${i}`, { minValue, maxValue });
  });
  return hp;
}

const hartmannOf = (trial: Trial) =>
  hartmann6.evaluate(hartmann6.bounds.map((_, i) => trial.hyperparameters.get(`x${i}`) as number));

function open(kind: Kind, directory: string, projectName: string, overwrite: boolean): Tuner {
  const options = {
    hyperparameters: space(),
    maxTrials: null,
    seed: 1,
    directory,
    projectName,
    overwrite,
    verbose: 0 as const,
  };
  if (kind === 'GP') return new BayesianOptimization(null, { ...options, tpeAfter: Number.POSITIVE_INFINITY });
  if (kind === 'BO') return new BayesianOptimization(null, options);
  if (kind === 'TPE') return new TPE(null, options);
  return new RandomSearch(null, options);
}

/** Fills a study with `n` random finished trials, told in one ask/tell loop. */
async function fill(directory: string, projectName: string, n: number): Promise<void> {
  const tuner = open('Random', directory, projectName, true);
  try {
    for (let i = 0; i < n; i++) {
      const trial = (await tuner.ask()) as Trial;
      await tuner.tell(trial, hartmannOf(trial));
    }
  } finally {
    await tuner.close();
  }
}

interface Timing {
  cpu: number;
  wall: number;
}

/**
 * CPU and wall seconds of each of `asks` suggestions (each told before the next, so the study keeps
 * about n trials). The decision runs on this process's thread (SQLite is in-process), so CPU time is
 * what an idle core would take; wall time shows what a loaded machine adds.
 */
async function timeAsks(kind: Kind, directory: string, projectName: string, asks: number): Promise<Timing[]> {
  const tuner = open(kind, directory, projectName, false);
  const oracle: Oracle = tuner.oracle;
  await oracle.getTrials(); // opened before timing
  const seconds: Timing[] = [];
  try {
    for (let i = 0; i < asks; i++) {
      const cpu = process.cpuUsage();
      const start = performance.now();
      const trial = (await tuner.ask()) as Trial;
      const used = process.cpuUsage(cpu);
      seconds.push({ cpu: (used.user + used.system) / 1e6, wall: (performance.now() - start) / 1000 });
      await tuner.tell(trial, hartmannOf(trial));
    }
  } finally {
    await tuner.close();
  }
  return seconds;
}

export const cost: Section = {
  name: 'cost',
  options: {
    'cost-sizes': { type: 'string', default: '50,200,500' },
    'cost-asks': { type: 'string', default: '3' },
  },
  async run(flags: Flags, context: SectionContext) {
    const sizes = String(flags['cost-sizes'])
      .split(',')
      .map((s) => {
        const n = Number(s);
        if (!Number.isInteger(n) || n < 1) throw new Error(`--cost-sizes must list positive integers, got ${s}`);
        return n;
      });
    const asks = intFlag(flags, 'cost-asks');
    console.log(
      `\n== suggestion cost: CPU seconds per ask() (wall seconds in brackets) on Hartmann-6 (6 floats) ` +
        `with N finished trials, median of ${asks} ==`,
    );
    const rows: string[][] = [];
    let met = true;
    for (const n of sizes) {
      const projectName = `cost-${n}`;
      await fill(context.directory, projectName, n);
      const times = new Map<Kind, Timing>();
      for (const kind of KINDS) {
        const runs = await timeAsks(kind, context.directory, projectName, asks);
        times.set(kind, { cpu: median(runs.map((r) => r.cpu)), wall: median(runs.map((r) => r.wall)) });
      }
      const cpu = (k: Kind) => (times.get(k) as Timing).cpu;
      let target = '';
      if (n === 200) {
        const ok = cpu('BO') < 1;
        met &&= ok;
        target = `BayesianOptimization < 1 s: ${ok ? 'yes' : 'NO'}`;
      }
      rows.push([
        String(n),
        ...KINDS.map((k) => `${cpu(k).toFixed(3)} (${(times.get(k) as Timing).wall.toFixed(3)})`),
        `${(cpu('GP') / cpu('TPE')).toFixed(0)}x`,
        target,
      ]);
    }
    printTable(['finished trials', ...KINDS.map((k) => HEADERS[k]), 'GP/TPE', 'target'], rows);
    console.log('BayesianOptimization hands over to TPE past tpeAfter = 150 finished trials.');
    return { met };
  },
};
