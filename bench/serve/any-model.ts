/**
 * bench:serve, issue 16 section — serving any model, side by side in one run:
 * 1. the image route (a 32x32 PNG, raw body and TF Serving b64) vs the numeric MNIST route, one server;
 * 2. KServe v2 gRPC ModelInfer (unary) and ModelStreamInfer (Triton's streaming method) with raw_input_contents vs
 *    the REST v2 JSON route (MNIST MLP), one server;
 * 3. ten models served at once vs one (requests spread over the ten), two servers, rounds alternating.
 * Every point is the best of `rounds` alternating rounds (the machine is shared).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ModelRepository } from '@tuneserve/runtime';
import autocannon from 'autocannon';
import sharp from 'sharp';

const GRPC_LOAD = join(import.meta.dirname, '..', 'grpc_load.py');
const NOOP_HTTP = join(import.meta.dirname, 'noop.js');
const NOOP_GRPC = join(import.meta.dirname, 'noop-grpc.js');

export interface AnyModelOptions {
  cli: string;
  repoRoot: string;
  dir: string;
  /** Seconds per round and point. */
  duration: number;
  rounds: number;
  /** A flat MNIST example (784 values). */
  instance: number[];
  /** Only one part: the image rows, the gRPC rows, or the ten-models rows (default: all three). */
  only?: 'image' | 'grpc' | 'models' | undefined;
}

interface Server {
  url: string;
  pid: number;
  grpc?: string | undefined;
  stop(): Promise<void>;
}

interface Point {
  rps: number;
  p50: number;
  p99: number;
  failed: number;
  /** Server CPU per answered request (µs): independent of how fast the load client is. */
  cpuUs?: number;
}

/** CPU milliseconds a process has used (Linux /proc; clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

/** Runs a load and adds the server's CPU per answered request. */
async function withCpu(pid: number, run: () => Promise<Point>, seconds: number): Promise<Point> {
  const before = cpuMs(pid);
  const point = await run();
  return { ...point, cpuUs: ((cpuMs(pid) - before) * 1000) / Math.max(1, point.rps * seconds) };
}

function launch(cli: string, args: string[]): Promise<Server> {
  return spawnServer(
    [cli, 'serve', '--host', '127.0.0.1', '--port', '0', '--log-level', 'warn', ...args],
    /serving .* at (\S+)(?: \(gRPC (\S+)\))?/,
  );
}

/** Starts a process and resolves once its stderr matches `ready` (group 1: URL, group 2: gRPC address). */
function spawnServer(argv: string[], ready: RegExp): Promise<Server> {
  const child: ChildProcess = spawn(process.execPath, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const m = ready.exec(stderr);
      if (m?.[1])
        resolve({
          url: m[1],
          pid: child.pid ?? 0,
          grpc: m[2],
          stop: async () => {
            child.kill('SIGTERM');
            await exited;
          },
        });
    });
    void exited.then(() => reject(new Error(`server exited early: ${stderr}`)));
  });
}

type Request = { path: string; body: string | Buffer; type: string };

async function http(base: string, requests: Request[], connections: number, seconds: number): Promise<Point> {
  const result = await autocannon({
    url: base,
    connections,
    duration: seconds,
    requests: requests.map((r) => ({
      method: 'POST',
      path: r.path,
      body: r.body,
      headers: { 'content-type': r.type },
    })),
  });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    failed: result.errors + result.timeouts + result.non2xx,
  };
}

/** How the Python gRPC load client drives the server. */
interface GrpcDrive {
  /** 0: unary ModelInfer; else ModelStreamInfer over this many streams, the in-flight messages spread over them. */
  streams: number;
  /** Client processes sharing the streams and in-flight requests. */
  processes: number;
}

/**
 * gRPC load from Python's grpcio (C core; the Debian peer the gRPC test uses): `connections` requests in flight,
 * each answer sending the next, requests serialized once. One Python process spends more CPU per request than the
 * server, so at c >= 8 two processes drive it (the REST side's autocannon is not the bound: the server is). grpc-js
 * as a load client spent ~12 ms per call on this machine, which measured the client instead of the server.
 */
function grpcLoad(
  address: string,
  protoDir: string,
  model: string,
  connections: number,
  seconds: number,
  values: number,
  drive: GrpcDrive,
): Promise<Point> {
  const argv = [address, protoDir, model, connections, seconds, values, drive.streams, drive.processes].map(String);
  return new Promise((resolve, reject) => {
    execFile('/usr/bin/python3', [GRPC_LOAD, ...argv], { timeout: (seconds + 60) * 1000 }, (err, stdout, stderr) => {
      if (err)
        return reject(
          new Error(`gRPC load failed (install python3-grpcio python3-grpc-tools): ${stderr || err.message}`),
        );
      const r = JSON.parse(stdout) as { count: number; failed: number; p50: number; p99: number };
      resolve({ rps: r.count / seconds, p50: r.p50, p99: r.p99, failed: r.failed });
    });
  });
}

const unaryDrive = (c: number): GrpcDrive => ({ streams: 0, processes: c >= 8 ? 2 : 1 });
/** ModelStreamInfer as a high-throughput client uses it: four streams (one at c = 1), messages in flight on each. */
const streamDrive = (c: number): GrpcDrive => ({ streams: Math.min(4, c), processes: c >= 8 ? 2 : 1 });

/** The load average now, for the header: these figures mean little on a busy machine. */
function machine(): string {
  const [one, five] = loadavg();
  return `${availableParallelism()} cores, load average ${one?.toFixed(2)} (1 min) ${five?.toFixed(2)} (5 min)`;
}

const best = (a: Point | undefined, b: Point): Point => (a && a.rps >= b.rps ? a : b);

/**
 * One target line: the r/s ratio b/a at c = 32 against its goal, and the server-CPU ratio a/b beside it (the r/s
 * ratio a server would reach with a core of its own, whatever the load client and the other processes cost).
 */
function target(label: string, row: { a: Point; b: Point } | undefined, goal: number, atMost = false): void {
  if (!row) return;
  const rps = row.b.rps / row.a.rps;
  const cpu = (row.a.cpuUs ?? Number.NaN) / (row.b.cpuUs ?? Number.NaN);
  const met = (x: number) => (atMost ? x <= goal : x >= goal);
  console.log(
    `target: ${label}: r/s ${rps.toFixed(2)}x ${met(rps) ? 'MET' : 'MISSED'}; by server CPU per request ${cpu.toFixed(2)}x ${met(cpu) ? 'MET' : 'MISSED'} (goal ${atMost ? '<=' : '>='} ${goal}x)`,
  );
}
const fmt = (n: number, d = 0) => n.toFixed(d).padStart(8);

/** Alternates the two sides for `rounds` rounds at each concurrency; keeps each side's best round. */
async function pair(run: (side: 0 | 1, c: number) => Promise<Point>, concurrency: number[], rounds: number) {
  const rows: { c: number; a: Point; b: Point }[] = [];
  await run(0, 8);
  await run(1, 8); // warm-up
  for (const c of concurrency) {
    let a: Point | undefined;
    let b: Point | undefined;
    for (let r = 0; r < rounds; r++) {
      a = best(a, await run(0, c));
      b = best(b, await run(1, c));
    }
    if (a && b) rows.push({ c, a, b });
  }
  return rows;
}

function print(title: string, names: [string, string], rows: { c: number; a: Point; b: Point }[]): void {
  console.log(`\n${title}`);
  console.log(
    `${'c'.padEnd(6)}${`${names[0]} r/s`.padStart(14)}${`${names[1]} r/s`.padStart(14)}${'ratio'.padStart(8)}   ${'p50 ms'.padStart(13)}   ${'p99 ms'.padStart(13)}  ${'server CPU us/req'.padStart(17)}  failed`,
  );
  for (const { c, a, b } of rows) {
    console.log(
      `${String(c).padEnd(6)}${fmt(a.rps).padStart(14)}${fmt(b.rps).padStart(14)}${(b.rps / a.rps).toFixed(2).padStart(7)}x   ${`${a.p50.toFixed(1)}/${b.p50.toFixed(1)}`.padStart(13)}   ${`${a.p99.toFixed(1)}/${b.p99.toFixed(1)}`.padStart(13)}  ${`${(a.cpuUs ?? Number.NaN).toFixed(0)}/${(b.cpuUs ?? Number.NaN).toFixed(0)}`.padStart(17)}  ${a.failed}/${b.failed}`,
    );
  }
}

async function saveMlp(root: string, name: string): Promise<void> {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ units: 64, activation: 'relu', inputShape: [784] }),
      tf.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
  await new ModelRepository(join(root, name)).saveVersion(model, {
    name,
    inputShape: [784],
    labels: [...'0123456789'],
  });
  model.dispose();
}

/** A small photo classifier: 32x32 RGB in, a Dense 64 -> 10 head (the cost under test is the image path). */
async function savePhotoModel(root: string): Promise<void> {
  const model = tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [32, 32, 3] }),
      tf.layers.dense({ units: 64, activation: 'relu' }),
      tf.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
  const labels = ['airplane', 'car', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
  await new ModelRepository(join(root, 'photo')).saveVersion(model, {
    name: 'photo',
    inputShape: [32, 32, 3],
    labels,
    input: { kind: 'image', width: 32, height: 32, channels: 3, fit: 'fill', layout: 'hwc' },
    output: { task: 'classification', labels },
  });
  model.dispose();
}

export async function benchAnyModel(o: AnyModelOptions): Promise<void> {
  const one = join(o.dir, 'any-one');
  const ten = join(o.dir, 'any-ten');
  await saveMlp(one, 'mnist');
  await savePhotoModel(one);
  for (let i = 0; i < 10; i++) await saveMlp(ten, `mnist${i}`);
  const protoDir = join(o.repoRoot, 'packages', 'server', 'proto');
  // A 32x32 photo-like PNG (noise, so the encoder cannot shrink it to nothing).
  const noise = Buffer.from(Array.from({ length: 32 * 32 * 3 }, (_, i) => (i * 73 + (i >> 3) * 151) % 256));
  const png = await sharp(noise, { raw: { width: 32, height: 32, channels: 3 } })
    .png()
    .toBuffer();
  const numeric = JSON.stringify({ instances: [o.instance] });
  const concurrency = [1, 8, 32];
  console.log(
    `\nany model (issue 16): PNG ${png.length} bytes 32x32; numeric body ${numeric.length} bytes; ${machine()}`,
  );

  const server = await launch(o.cli, ['--model-root', one, '--grpc-port', '0', '--samples', 'none']);
  try {
    const numericReq: Request = { path: '/v1/models/mnist:predict', body: numeric, type: 'application/json' };
    const rawImage: Request = { path: '/api/models/photo/predict', body: png, type: 'image/png' };
    const b64Image: Request = {
      path: '/v1/models/photo:predict',
      body: JSON.stringify({ instances: [{ b64: png.toString('base64') }] }),
      type: 'application/json',
    };
    if (!o.only || o.only === 'image') {
      const image = await pair(
        (side, c) =>
          withCpu(server.pid, () => http(server.url, [side === 0 ? numericReq : rawImage], c, o.duration), o.duration),
        concurrency,
        o.rounds,
      );
      print(
        'image route (raw image/png body, labelled answer) vs numeric TF Serving route (MNIST MLP), one server',
        ['numeric', 'image'],
        image,
      );
      const b64 = await pair(
        (side, c) =>
          withCpu(server.pid, () => http(server.url, [side === 0 ? numericReq : b64Image], c, o.duration), o.duration),
        [32],
        o.rounds,
      );
      print('TF Serving :predict with {"b64": PNG} vs numeric', ['numeric', 'b64'], b64);
      target(
        'image c=32 vs numeric',
        image.find((r) => r.c === 32),
        0.5,
      );
      target(
        'TF Serving b64 image c=32 vs numeric',
        b64.find((r) => r.c === 32),
        0.5,
      );
      const c8 = image.find((r) => r.c === 8);
      if (c8)
        console.log(`target: image c=8 p99 ${c8.b.p99.toFixed(1)} ms (<= 10 ms) ${c8.b.p99 <= 10 ? 'MET' : 'MISSED'}`);
    }

    if (server.grpc && (!o.only || o.only === 'grpc')) {
      const v2 = JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 784], data: o.instance }] });
      const grpcAddress = server.grpc;
      const v2Request: Request = { path: '/v2/models/mnist/infer', body: v2, type: 'application/json' };
      const rows = await pair(
        (side, c) =>
          withCpu(
            server.pid,
            () =>
              side === 0
                ? http(server.url, [v2Request], c, o.duration)
                : grpcLoad(grpcAddress, protoDir, 'mnist', c, o.duration, 784, unaryDrive(c)),
            o.duration,
          ),
        concurrency,
        o.rounds,
      );
      print(
        'gRPC unary ModelInfer raw_input_contents (Python grpcio client) vs REST v2 JSON infer (autocannon), MNIST MLP',
        ['REST v2', 'gRPC'],
        rows,
      );
      target(
        'gRPC unary ModelInfer raw c=32 vs REST v2 JSON',
        rows.find((r) => r.c === 32),
        1.2,
      );

      // Triton's streaming method: many requests on a few long-lived HTTP/2 streams, so grpc-js's per-call cost (a
      // new stream, headers, trailers) is paid once per stream instead of once per request.
      const streamed = await pair(
        (side, c) =>
          withCpu(
            server.pid,
            () =>
              side === 0
                ? http(server.url, [v2Request], c, o.duration)
                : grpcLoad(grpcAddress, protoDir, 'mnist', c, o.duration, 784, streamDrive(c)),
            o.duration,
          ),
        [8, 32],
        o.rounds,
      );
      print(
        'gRPC ModelStreamInfer raw_input_contents (Python grpcio, 4 streams, c = messages in flight) vs REST v2 JSON, MNIST MLP',
        ['REST v2', 'stream'],
        streamed,
      );
      target(
        'gRPC ModelStreamInfer raw c=32 vs REST v2 JSON',
        streamed.find((r) => r.c === 32),
        1.2,
      );

      // The same two clients against no-op servers: what grpc-js and Fastify allow before any model work.
      const noopHttp = await spawnServer([NOOP_HTTP, '0'], /noop listening at (\S+)/);
      const noopGrpc = await spawnServer([NOOP_GRPC, protoDir], /noop gRPC listening at (\S+)/);
      try {
        const grpcAt = noopGrpc.url;
        const ceiling = await pair(
          (side, c) =>
            side === 0
              ? withCpu(
                  noopHttp.pid,
                  () =>
                    http(
                      noopHttp.url,
                      [{ path: '/v2/models/mnist/infer', body: v2, type: 'application/json' }],
                      c,
                      o.duration,
                    ),
                  o.duration,
                )
              : withCpu(
                  noopGrpc.pid,
                  () => grpcLoad(grpcAt, protoDir, 'mnist', c, o.duration, 784, unaryDrive(c)),
                  o.duration,
                ),
          [32],
          o.rounds,
        );
        print(
          'ceilings: no-op grpc-js ModelInfer (Python grpcio client) vs no-op Fastify v2 JSON (autocannon), constant answers',
          ['noop REST', 'noop gRPC'],
          ceiling,
        );
        target('no-op gRPC c=32 vs no-op REST (the protocol libraries alone)', ceiling[0], 1.2);
        console.log(
          "note: unary ModelInfer pays grpc-js's per-call cost (a new HTTP/2 stream, headers, trailers: the no-op row) on every request; ModelStreamInfer pays it once per stream, so the gRPC target is for the streaming method",
        );
      } finally {
        await noopHttp.stop();
        await noopGrpc.stop();
      }
    }
  } finally {
    await server.stop();
  }

  // Default batching, then one example per model call: the second isolates what each extra model costs per request
  // (lookups, metrics, batchers, timers) from the batching a single busy model gets and ten models share out.
  if (o.only && o.only !== 'models') return;
  for (const batching of [[], ['--max-batch', '1']]) {
    const single = await launch(o.cli, ['--model', join(one, 'mnist'), '--samples', 'none', ...batching]);
    const many = await launch(o.cli, ['--model-root', ten, '--samples', 'none', ...batching]);
    try {
      const spread = Array.from({ length: 10 }, (_, i) => ({
        path: `/v1/models/mnist${i}:predict`,
        body: numeric,
        type: 'application/json',
      }));
      const rows = await pair(
        (side, c) =>
          withCpu(
            side === 0 ? single.pid : many.pid,
            () =>
              side === 0
                ? http(
                    single.url,
                    [{ path: '/v1/models/mnist:predict', body: numeric, type: 'application/json' }],
                    c,
                    o.duration,
                  )
                : http(many.url, spread, c, o.duration),
            o.duration,
          ),
        batching.length > 0 ? [32] : concurrency,
        o.rounds,
      );
      const how = batching.length > 0 ? '--max-batch 1 (no micro-batching)' : 'default micro-batching';
      print(
        `ten models at once (requests spread over the ten) vs one model, TF Serving route, ${how}`,
        ['1 model', '10 models'],
        rows,
      );
      const m32 = rows.find((r) => r.c === 32);
      if (m32) {
        const rps = m32.b.rps / m32.a.rps;
        const cpu = (m32.a.cpuUs ?? Number.NaN) / (m32.b.cpuUs ?? Number.NaN);
        console.log(
          `target: 10 models c=32, ${how}: r/s ${rps.toFixed(2)}x one model's, server CPU per request one/ten ${cpu.toFixed(2)}x (goal: 1.0x within noise)`,
        );
      }
    } finally {
      await single.stop();
      await many.stop();
    }
  }
}
