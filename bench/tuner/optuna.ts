/**
 * Optuna as the peer of the search-quality section: Debian's python3-optuna, installed on demand with
 * apt-get when `/usr/bin/python3 -c 'import optuna'` fails (a benchmark-only peer stays out of
 * setup-system.sh). The searches run in optuna_peer.py on the same functions, checked by probing.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Problem } from './problems.js';

const PYTHON = '/usr/bin/python3';
/** The script sits beside the sources; tsc writes this module to dist/. */
const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'optuna_peer.py');

export type OptunaSampler = 'tpe' | 'tpe-multivariate' | 'random';

function importsOptuna(): boolean {
  return spawnSync(PYTHON, ['-c', 'import optuna'], { stdio: 'ignore' }).status === 0;
}

/** Makes sure Optuna imports, installing python3-optuna if needed; throws with the reason when it cannot. */
export function ensureOptuna(): void {
  if (importsOptuna()) return;
  console.log('installing the peer: apt-get install -y python3-optuna');
  const install = () =>
    execFileSync('apt-get', ['install', '-y', '-q', 'python3-optuna'], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  try {
    try {
      install();
    } catch {
      execFileSync('apt-get', ['update', '-q'], { stdio: ['ignore', 'ignore', 'inherit'] });
      install();
    }
  } catch (err) {
    throw new Error(`the Optuna peer could not be installed (apt-get install python3-optuna): ${String(err)}`);
  }
  if (!importsOptuna()) throw new Error('python3-optuna is installed but /usr/bin/python3 cannot import optuna');
}

export interface OptunaRun {
  version: string;
  /** Each seed's best value. */
  best: number[];
  seconds: number;
}

/** Runs one Optuna sampler on a problem for every seed; checks that Python evaluates the same function. */
export function runOptuna(problem: Problem, sampler: OptunaSampler, seeds: number[], evals: number): OptunaRun {
  const probe = [0.2, 0.7].map((p) => problem.bounds.map(([lo, hi]) => lo + p * (hi - lo)));
  const request = { problem: problem.name, bounds: problem.bounds, sampler, seeds, evals, probe };
  const out = execFileSync(PYTHON, [SCRIPT, JSON.stringify(request)], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const result = JSON.parse(out) as OptunaRun & { probe: number[] };
  probe.forEach((x, i) => {
    const ours = problem.evaluate(x);
    if (Math.abs((result.probe[i] as number) - ours) > 1e-9 * Math.max(1, Math.abs(ours))) {
      throw new Error(`optuna_peer.py's ${problem.name} differs from ours at ${x}: ${result.probe[i]} vs ${ours}`);
    }
  });
  return result;
}
