// bench:soak — the server under sustained load while things go wrong around it (issue 17). A figure, not a test.
// Saturates /predict and the TF Serving route with autocannon while event streams stay open, publishes a new model
// version every --reload-every seconds (hot reload) and SIGKILLs a tuning worker every --kill-every seconds (then
// restarts it). Prints failed requests, p99, stream errors, trials by status, and RSS and live tensors at start/end.
// Usage: npm run bench:soak [-- --duration 300 --reload-every 30 --kill-every 60 --connections 8 --streams 10]
import { spawn } from 'node:child_process';
import { cp, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { saveLayersModel } from '@tuneserve/runtime';
import autocannon from 'autocannon';

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '300' },
    'reload-every': { type: 'string', default: '30' },
    'kill-every': { type: 'string', default: '60' },
    connections: { type: 'string', default: '8' },
    streams: { type: 'string', default: '10' },
  },
});
const seconds = (name) => {
  const n = Number(flags[name]);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`bench:soak: --${name} must be a positive integer, got "${flags[name]}"`);
    process.exit(2);
  }
  return n;
};
const DURATION = seconds('duration');
const RELOAD_EVERY = seconds('reload-every');
const KILL_EVERY = seconds('kill-every');
const CONNECTIONS = seconds('connections');
const STREAMS = seconds('streams');
const BIN = resolve(import.meta.dirname, '../../packages/cli/dist/bin.js');

const work = await mkdtemp(join(tmpdir(), 'tuneserve-soak-'));
const modelRoot = join(work, 'models', 'mnist');
const model = tf.sequential({
  layers: [
    tf.layers.dense({ units: 128, inputShape: [784], activation: 'relu' }),
    tf.layers.dense({ units: 10, activation: 'softmax' }),
  ],
});
await saveLayersModel(model, join(modelRoot, '1'));
model.dispose();

const children = new Set();
function run(args) {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

// The server, with the study the tuning worker writes.
const server = run([
  'serve',
  '--model',
  modelRoot,
  '--host',
  '127.0.0.1',
  '--port',
  '0',
  '--samples',
  'none',
  '--directory',
  join(work, 'tuning'),
  '--project-name',
  'soak',
  '--poll-ms',
  '500',
  '--log-level',
  'warn',
]);
const base = await new Promise((ok, fail) => {
  let text = '';
  server.stderr.on('data', (d) => {
    text += d;
    const m = /serving .* at (http:\/\/[\d.:]+)/.exec(text);
    if (m) ok(m[1]);
  });
  server.on('exit', (code) => fail(new Error(`serve exited (${code}): ${text}`)));
});

async function gauges() {
  const text = await (await fetch(`${base}/metrics`)).text();
  const value = (name) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  return {
    rssMiB: value('tuneserve_process_resident_memory_bytes') / 2 ** 20,
    tensors: value('tuneserve_tfjs_tensors'),
  };
}

// Warm up, then take the starting figures.
const image = Array.from({ length: 784 }, (_, i) => (i % 7) / 7);
const tfBody = JSON.stringify({ instances: [image] });
const refBody = JSON.stringify(JSON.stringify({ instances: image }));
for (let i = 0; i < 200; i++) {
  await fetch(`${base}/v1/models/mnist:predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: tfBody,
  });
}
const start = await gauges();

// A tuning worker, SIGKILLed and restarted every KILL_EVERY seconds.
let worker;
let kills = 0;
let workerOutput = '';
const startWorker = () => {
  worker = run([
    'tune',
    '--directory',
    join(work, 'tuning'),
    '--project-name',
    'soak',
    '--space',
    'mlp',
    '--max-trials',
    '1000',
    '--executions-per-trial',
    '1',
    '--epochs',
    '1',
    '--limit-samples',
    '300',
    '--quiet',
  ]);
  worker.stderr.on('data', (d) => {
    workerOutput = (workerOutput + d).slice(-2000);
  });
};
startWorker();
const killer = setInterval(() => {
  worker.kill('SIGKILL');
  kills++;
  startWorker();
}, KILL_EVERY * 1000);

// Hot reload: a new version every RELOAD_EVERY seconds, published atomically (copy, then rename).
let version = 1;
const reloader = setInterval(async () => {
  const next = version + 1;
  await cp(join(modelRoot, String(version)), join(modelRoot, `.tmp-${next}`), { recursive: true });
  await rename(join(modelRoot, `.tmp-${next}`), join(modelRoot, String(next)));
  version = next;
}, RELOAD_EVERY * 1000);

// Event streams that stay open the whole time.
const streamStats = { events: 0, errors: 0 };
const aborts = [];
for (let i = 0; i < STREAMS; i++) {
  const abort = new AbortController();
  aborts.push(abort);
  fetch(`${base}/api/study/events`, { signal: abort.signal })
    .then(async (res) => {
      const decoder = new TextDecoder();
      for await (const chunk of res.body) streamStats.events += decoder.decode(chunk).split('event: study').length - 1;
    })
    .catch((e) => {
      if (e.name !== 'AbortError') streamStats.errors++;
    });
}

const load = (path, body) =>
  autocannon({
    url: `${base}${path}`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections: CONNECTIONS,
    duration: DURATION,
  });
console.log(
  `bench:soak: ${DURATION} s on ${base}: /predict + TF Serving (${CONNECTIONS} connections each), ${STREAMS} event streams, reload every ${RELOAD_EVERY} s, worker SIGKILL every ${KILL_EVERY} s`,
);
const [ref, tfs] = await Promise.all([load('/predict', refBody), load('/v1/models/mnist:predict', tfBody)]);
clearInterval(killer);
clearInterval(reloader);
for (const a of aborts) a.abort();
await new Promise((r) => setTimeout(r, 1500)); // let the last version swap finish before the end figures
const end = await gauges();
const studyRes = await fetch(`${base}/api/study`);
const study = studyRes.ok ? await studyRes.json() : { trials: [] };
if (!studyRes.ok) console.log(`no study: ${studyRes.status}; the worker's last output:\n${workerOutput}`);
const byStatus = {};
for (const t of study.trials ?? []) byStatus[t.status] = (byStatus[t.status] ?? 0) + 1;

const row = (name, r) =>
  `${name.padEnd(26)} ${String(r.requests.total).padStart(9)} req  ${String(r.non2xx + r.errors + r.timeouts).padStart(5)} failed  p50 ${r.latency.p50} ms  p99 ${r.latency.p99} ms  ${Math.round(r.requests.average)} req/s`;
console.log(row('POST /predict', ref));
console.log(row('POST /v1/models/mnist:predict', tfs));
console.log(
  `event streams: ${STREAMS} open, ${streamStats.events} study events received, ${streamStats.errors} errors`,
);
console.log(`hot reloads: ${version - 1} (versions 2..${version}); worker SIGKILLs: ${kills}`);
// A trial whose worker was killed is taken over by the next worker: ids stay contiguous and none ends FAILED.
const ids = (study.trials ?? []).map((t) => Number(t.trialId)).filter(Number.isInteger);
const missing = ids.length === 0 ? 0 : Math.max(...ids) + 1 - new Set(ids).size;
console.log(`trials by status: ${JSON.stringify(byStatus)}; missing trial ids: ${missing}`);
console.log(
  `RSS ${start.rssMiB.toFixed(0)} MiB -> ${end.rssMiB.toFixed(0)} MiB; live tensors ${start.tensors} -> ${end.tensors}`,
);
console.log('(machine shared with other work: absolute figures are indicative)');

for (const child of children) child.kill('SIGKILL');
await rm(work, { recursive: true, force: true });
process.exit(ref.non2xx + ref.errors + tfs.non2xx + tfs.errors + streamStats.errors > 0 ? 1 : 0);
