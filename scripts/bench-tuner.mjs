// `npm run bench:tuner [-- options]`: the tuner benchmark sections of bench/tuner (search quality,
// suggestion cost, ...; see bench/tuner/tuner.ts), or with `--workers 1,2` the distributed
// wall-time benchmark on PostgreSQL. Builds what it runs first.
import { execFileSync } from 'node:child_process';

const args = process.argv.slice(2);
const distributed = args.some((a) => a === '--workers' || a.startsWith('--workers='));
const bench = distributed
  ? { dir: 'bench/tuner-workers', main: 'workers.js' }
  : { dir: 'bench/tuner', main: 'tuner.js' };
const run = (cmd, argv) => execFileSync(cmd, argv, { stdio: 'inherit' });
try {
  run('npx', ['tsc', '-b', 'packages/tuner']);
  run('npx', ['tsc', '-p', bench.dir]);
  run('node', [`${bench.dir}/dist/${bench.main}`, ...args]);
} catch (err) {
  process.exitCode = typeof err.status === 'number' ? err.status : 1;
}
