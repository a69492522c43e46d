#!/usr/bin/env node
// The reference run, end to end through the built CLI: seed space, BayesianOptimization, maxTrials 1,
// executionsPerTrial 2, epochs 10, then train (best epoch with patience 10, retrain on train+val, test).
// Prints the reference's figures and ours side by side.
// Usage: npm run bench:pipeline -- [--seed N] [--retrain fresh|continue]
// --retrain continue keeps training the best-epoch search's model on train+val, as the reference's code does.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const bin = join(import.meta.dirname, '..', '..', 'cli', 'dist', 'bin.js');
const seedIndex = process.argv.indexOf('--seed');
const seed = seedIndex > 0 ? process.argv[seedIndex + 1] : '1';
const retrainIndex = process.argv.indexOf('--retrain');
const retrain = retrainIndex > 0 ? process.argv[retrainIndex + 1] : 'fresh';
const cwd = mkdtempSync(join(tmpdir(), 'tuneserve-bench-seed-'));

function run(args) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  process.stdout.write(r.stdout);
  if (r.status !== 0) throw new Error(`tuneserve ${args[0]} exited with ${r.status}`);
  return { out: r.stdout, seconds: (performance.now() - t0) / 1000 };
}

try {
  const tune = run([
    'tune',
    '--space',
    'seed',
    '--tuner',
    'bayesian',
    '--max-trials',
    '1',
    '--executions-per-trial',
    '2',
    '--epochs',
    '10',
    '--seed',
    seed,
    '--overwrite',
    '--quiet',
  ]);
  const train = run(['train', '--retrain', retrain]);
  const accuracy = Number(/test accuracy: (0\.\d+)/.exec(train.out)?.[1]);
  const hp = /training #1 \(trial \d+, score [\d.]+\): (\{.*\})/.exec(train.out)?.[1] ?? '?';
  const wall = tune.seconds + train.seconds;
  const rows = [
    ['metric', 'reference (Keras)', 'tuneserve', 'ratio'],
    ['test accuracy', '0.9710', accuracy.toFixed(4), (accuracy / 0.971).toFixed(3)],
    ['pipeline wall time (s)', '<= 300 (target)', wall.toFixed(0), (wall / 300).toFixed(2)],
    ['  of which tune (s)', '', tune.seconds.toFixed(0), ''],
    ['  of which train (s)', '', train.seconds.toFixed(0), ''],
  ];
  console.log(`\nseed ${seed}, --retrain ${retrain}: best hyperparameters ${hp}`);
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(i === 0 ? 24 : 18)).join(''));
} finally {
  rmSync(cwd, { recursive: true, force: true });
}
