/**
 * bench:tuner:workers — wall time of one fixed search run by 1, 2, ... worker processes sharing a
 * PostgreSQL study, and the speedup over one worker, printed side by side in one run.
 *
 * The search: RandomSearch on Branin, `--trials` trials, each burning `--trial-ms` of CPU time (a
 * stand-in for training, so the speedup reflects the free cores). Workers are the same script the
 * distributed tests use. "wall" runs from spawning the workers to the last one exiting, so process
 * start-up (loading TF.js) is included, as a user would see it; "search" runs from the first
 * trial's start to the last trial's result, i.e. the part that parallelises.
 *
 * `--work sleep` replaces the CPU burn by a wait (work done elsewhere, e.g. on an accelerator): it
 * isolates the coordination cost, since then only the database hand-out can keep workers serial.
 *
 *   npm run bench:tuner:workers -- --workers 1,2 [--trials 24] [--trial-ms 400] [--work cpu|sleep] [--pg-url URL]
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';

const WORKER = fileURLToPath(new URL('../../../packages/tuner/test/fixtures/distributed-worker.mjs', import.meta.url));

const { values } = parseArgs({
  options: {
    workers: { type: 'string', default: '1,2' },
    trials: { type: 'string', default: '24' },
    'trial-ms': { type: 'string', default: '400' },
    work: { type: 'string', default: 'cpu' },
    'pg-url': {
      type: 'string',
      default: process.env.TUNESERVE_TEST_PG_URL ?? 'postgres://tuneserve:tuneserve@127.0.0.1:5432/tuneserve_test',
    },
  },
});

function positiveInt(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`--${name} must be a positive integer, got "${text}"`);
    process.exit(2);
  }
  return n;
}

const counts = values.workers.split(',').map((w) => positiveInt('workers', w.trim()));
const trials = positiveInt('trials', values.trials);
const trialMs = positiveInt('trial-ms', values['trial-ms']);
if (values.work !== 'cpu' && values.work !== 'sleep') {
  console.error(`--work must be cpu or sleep, got "${values.work}"`);
  process.exit(2);
}
const busy = values.work === 'cpu';

/** From the first trial start to the last computed result, from the workers' event log. */
function searchSeconds(log: string): number {
  const events = readFileSync(log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { event: string; at: number });
  const starts = events.filter((e) => e.event === 'start').map((e) => e.at);
  const ends = events.filter((e) => e.event === 'computed').map((e) => e.at);
  return (Math.max(...ends) - Math.min(...starts)) / 1000;
}

function runWorker(config: object): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WORKER, JSON.stringify(config)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker exited with ${code}: ${err}`))));
  });
}

async function main(): Promise<void> {
  const schema = `bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: values['pg-url'] });
  try {
    await admin.connect();
  } catch (error) {
    console.error(
      `cannot connect to PostgreSQL at ${values['pg-url'].replace(/:[^:@/]*@/, ':***@')}: ${(error as Error).message}`,
    );
    process.exit(2);
  }
  await admin.query(`CREATE SCHEMA ${schema}`);
  const url = new URL(values['pg-url']);
  url.searchParams.set('options', `-c search_path=${schema}`);
  const directory = mkdtempSync(path.join(tmpdir(), 'bench-workers-'));
  console.log(
    `Fixed search: RandomSearch on Branin, ${trials} trials x ${trialMs} ms ${busy ? 'of CPU' : 'of waiting'} each; ` +
      `${cpus().length} cores; ` +
      `study in PostgreSQL (schema ${schema}); load average ${loadavg()[0]!.toFixed(1)}.`,
  );
  const rows: { workers: number; seconds: number; search: number }[] = [];
  try {
    for (const n of counts) {
      const projectName = `bench-${n}`;
      const log = path.join(directory, `${projectName}.jsonl`);
      const started = performance.now();
      await Promise.all(
        Array.from({ length: n }, (_, i) =>
          runWorker({
            storage: url.toString(),
            projectName,
            directory,
            tunerId: `bench-${n}-${i}`,
            maxTrials: trials,
            seed: 1,
            trialMs,
            busy,
            heartbeatIntervalMs: 1000,
            heartbeatTimeoutMs: 30_000,
            log,
          }),
        ),
      );
      const seconds = (performance.now() - started) / 1000;
      const { rows: done } = await admin.query<{ n: string }>(
        `SELECT count(*) AS n FROM ${schema}.tuneserve_trials WHERE study = $1 AND status = 'COMPLETED'`,
        [projectName],
      );
      if (Number(done[0]?.n) !== trials)
        throw new Error(`${n} workers completed ${done[0]?.n} trials, expected ${trials}`);
      rows.push({ workers: n, seconds, search: searchSeconds(log) });
    }
  } finally {
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.end();
    rmSync(directory, { recursive: true, force: true });
  }
  const base = rows[0]!;
  console.log('');
  console.log('workers | wall (s) | wall speedup | search (s) | search speedup | trials/s (search)');
  console.log('--------|----------|--------------|------------|----------------|------------------');
  for (const r of rows) {
    console.log(
      [
        String(r.workers).padStart(7),
        r.seconds.toFixed(2).padStart(8),
        `${(base.seconds / r.seconds).toFixed(2)}x`.padStart(12),
        r.search.toFixed(2).padStart(10),
        `${(base.search / r.search).toFixed(2)}x`.padStart(14),
        (trials / r.search).toFixed(2).padStart(17),
      ].join(' | '),
    );
  }
  console.log(
    `\nLoad average at the end: ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores (shared with other processes).`,
  );
  console.log(
    `Speedups are relative to ${base.workers} worker(s); the ideal is ${
      busy ? `min(workers, free cores) with ${cpus().length} cores` : 'the number of workers'
    }.`,
  );
}

await main();
