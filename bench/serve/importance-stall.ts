/**
 * bench:serve row "importance stall": what a dashboard watching a running study costs /predict. A study of
 * `trials` completed trials gains one every 1.5 s (as a running search does) while a client reads
 * /api/models/mnist/study every second and autocannon loads /predict (c=8). Importance fitted on the server's
 * event loop (the previous way, `inline`) against fitted in the background worker (`worker`); rounds alternate.
 * Prints /predict p99 and max latency, the server's event-loop delay (perf_hooks) and the study route's states.
 *
 * Standalone: node bench/serve/dist/importance-stall.js [seconds] [rounds] [trials]
 */
import { fork } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { StudyJson } from '@tuneserve/client';
import { ModelRepository } from '@tuneserve/runtime';
import { HyperParameters, openStorage, type StudyStorage } from '@tuneserve/tuner';
import autocannon from 'autocannon';

const SERVER = join(import.meta.dirname, 'importance-server.js');
const PROJECT = 'stall';
const optimizers = ['adam', 'sgd', 'rmsprop'];
const activations = ['relu', 'tanh'];

/** A fixed sequence in [0, 1). */
const u = (i: number, stream: number) => (i * (0.6180339887 + stream * 0.1414213562) + 0.1) % 1;

async function addTrial(storage: StudyStorage, seq: number): Promise<void> {
  const lr = 10 ** (-4 + 3 * u(seq, 1));
  const optimizer = optimizers[seq % 3]!;
  const values = {
    units: 16 + Math.round(496 * u(seq, 2)),
    layers: 1 + (seq % 3),
    learning_rate: lr,
    optimizer,
    dropout: 0.5 * u(seq, 3),
    activation: activations[seq % 2]!,
  };
  const score = 0.9 + 0.04 * (optimizer === 'adam' ? 1 : 0) - 0.02 * Math.abs(Math.log10(lr) + 2.5) + 0.01 * u(seq, 4);
  const trialId = String(seq).padStart(3, '0');
  const start = Date.UTC(2026, 0, 1) + seq * 60_000;
  await storage.putTrial({
    trialId,
    seq,
    status: 'COMPLETED',
    values,
    hash: trialId,
    score,
    bestStep: 9,
    metrics: { val_accuracy: score, val_loss: 1 - score },
    message: null,
    ownerId: null,
    heartbeatAt: null,
    startedAt: start,
    endedAt: start + 30_000,
    retries: 0,
    userData: {},
  });
  await storage.putMetrics(
    Array.from({ length: 10 }, (_, step) => [
      { trialId, execution: 0, step, name: 'val_accuracy', value: score - 0.01 * (9 - step) },
      { trialId, execution: 0, step, name: 'val_loss', value: 1 - score + 0.01 * (9 - step) },
    ]).flat(),
  );
}

/** CPU ms of a process's main thread and of its other threads (Linux /proc; 10 ms clock ticks). */
function threadCpu(pid: number): { main: number; others: number } {
  let main = 0;
  let others = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const f = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      const ms = (Number(f[11]) + Number(f[12])) * 10;
      if (Number(tid) === pid) main += ms;
      else others += ms;
    } catch {
      // the thread ended meanwhile
    }
  }
  return { main, others };
}

interface Row {
  mode: string;
  p50: number;
  p99: number;
  max: number;
  rps: number;
  delayMax: number;
  delayP99: number;
  stalls: number;
  stalledMs: number;
  cpuMain: number;
  cpuOthers: number;
  states: Record<string, number>;
}

async function round(
  mode: 'inline' | 'worker',
  models: string,
  tuning: string,
  storage: StudyStorage,
  next: { seq: number },
  seconds: number,
  watch: boolean,
): Promise<Row> {
  const child = fork(SERVER, [mode, models, tuning, PROJECT], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
  const reply = () => new Promise<Record<string, number> & { url?: string }>((r) => child.once('message', r));
  const { url } = (await reply()) as { url: string };
  const body = JSON.stringify({ instances: [Array.from({ length: 784 }, (_, i) => (i % 7) / 7)] });
  const load = (duration: number) =>
    autocannon({
      url: `${url}/predict`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      connections: 8,
      duration,
    });
  await load(1); // warm-up
  const study = async () => (await (await fetch(`${url}/api/models/mnist/study`)).json()) as StudyJson;
  await study(); // the first fit (a dashboard already open) is not part of the window
  if (mode === 'worker') while ((await study()).importanceStatus?.state === 'computing') await sleep(100);
  child.send('reset');
  const states: Record<string, number> = {};
  let running = watch;
  const watcher = (async () => {
    while (running) {
      const s = await study();
      const state = s.importanceStatus?.state ?? 'none';
      states[state] = (states[state] ?? 0) + 1;
      await sleep(1000);
    }
  })();
  const finisher = (async () => {
    while (running) {
      await sleep(1500);
      if (running) await addTrial(storage, next.seq++);
    }
  })();
  const cpuBefore = threadCpu(child.pid!);
  const result = await load(seconds);
  running = false;
  const cpuAfter = threadCpu(child.pid!);
  await Promise.all([watcher, finisher]);
  child.send('report');
  const delay = await reply();
  child.send('stop');
  await new Promise((r) => child.once('exit', r));
  return {
    mode: watch ? mode : `${mode}, no dashboard`,
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    rps: result.requests.average,
    delayMax: delay.max ?? Number.NaN,
    delayP99: delay.p99 ?? Number.NaN,
    stalls: delay.stalls ?? Number.NaN,
    stalledMs: delay.stalledMs ?? Number.NaN,
    cpuMain: cpuAfter.main - cpuBefore.main,
    cpuOthers: cpuAfter.others - cpuBefore.others,
    states,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function benchImportanceStall(o: { seconds: number; rounds: number; trials: number }): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tuneserve-bench-importance-'));
  try {
    const models = join(dir, 'models');
    const tuning = join(dir, 'tuning');
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ units: 64, activation: 'relu', inputShape: [784] }),
        tf.layers.dense({ units: 10, activation: 'softmax' }),
      ],
    });
    await new ModelRepository(join(models, 'mnist')).saveVersion(model, {
      name: 'mnist',
      inputShape: [784],
      labels: [...'0123456789'],
      training: { study: { projectName: PROJECT } },
    });
    model.dispose();
    const storage = await openStorage('sqlite:', { directory: tuning, projectName: PROJECT, overwrite: true });
    try {
      await storage.putStudy({
        name: PROJECT,
        tuner: 'RandomSearch',
        objective: { name: 'val_accuracy', direction: 'max' },
        maxTrials: null,
        space: new HyperParameters().toConfig(),
        oracleState: {},
        createdAt: Date.UTC(2026, 0, 1),
      });
      const next = { seq: 0 };
      while (next.seq < o.trials) await addTrial(storage, next.seq++);
      console.log(
        `\nimportance stall: /predict c=8 for ${o.seconds} s while a client reads the study every 1 s and a trial completes every 1.5 s (study of ${o.trials}+ trials, 6 hps), ${o.rounds} alternating rounds`,
      );
      const rows: Row[] = [await round('worker', models, tuning, storage, next, o.seconds, false)];
      for (let r = 0; r < o.rounds; r++) {
        const order = r % 2 === 0 ? (['inline', 'worker'] as const) : (['worker', 'inline'] as const);
        for (const mode of order) rows.push(await round(mode, models, tuning, storage, next, o.seconds, true));
      }
      console.log(
        `${'importance'.padEnd(22)}${'r/s'.padStart(7)}${'p50 ms'.padStart(8)}${'p99 ms'.padStart(8)}${'max ms'.padStart(8)}${'loop delay p99/max ms'.padStart(23)}${'stalls >20ms: n, ms'.padStart(21)}${'main CPU us/req'.padStart(16)}${'other threads CPU ms'.padStart(21)}  study reads`,
      );
      for (const row of rows) {
        console.log(
          `${row.mode.padEnd(22)}${row.rps.toFixed(0).padStart(7)}${row.p50.toFixed(1).padStart(8)}${row.p99.toFixed(1).padStart(8)}${row.max.toFixed(1).padStart(8)}${`${row.delayP99.toFixed(1)}/${row.delayMax.toFixed(1)}`.padStart(23)}${`${row.stalls}, ${row.stalledMs.toFixed(0)}`.padStart(21)}${((row.cpuMain * 1000) / Math.max(1, row.rps * o.seconds)).toFixed(0).padStart(16)}${String(row.cpuOthers).padStart(21)}  ${Object.entries(
            row.states,
          )
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}`,
        );
      }
      const of = (mode: string, pick: (r: Row) => number) => rows.filter((r) => r.mode === mode).map(pick);
      const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
      const longest = {
        worker: Math.min(...of('worker', (r) => r.delayMax)),
        inline: Math.min(...of('inline', (r) => r.delayMax)),
      };
      console.log(
        `targets: longest event-loop block (best round) worker ${longest.worker.toFixed(0)} ms vs inline ${longest.inline.toFixed(0)} ms, ${(longest.inline / longest.worker).toFixed(1)}x shorter (target: worker <= 50 ms) ${longest.worker <= 50 ? 'MET' : 'MISSED'}`,
      );
      const others = (mode: string) => sum(of(mode, (r) => r.cpuOthers)) / o.rounds;
      const maxLatency = (mode: string) => Math.min(...of(mode, (r) => r.max)).toFixed(0);
      console.log(
        `         CPU of the server's other threads per round worker ${others('worker').toFixed(0)} ms vs inline ${others('inline').toFixed(0)} ms (the fits run there now); /predict max (best round) worker ${maxLatency('worker')} ms vs inline ${maxLatency('inline')} ms`,
      );
    } finally {
      await storage.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const [seconds = '10', rounds = '2', trials = '40'] = process.argv.slice(2);
  await benchImportanceStall({ seconds: Number(seconds), rounds: Number(rounds), trials: Number(trials) });
}
