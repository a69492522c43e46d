/**
 * bench:data — loading speed and memory of @tuneserve/data against a baseline, side by side in one run.
 *
 * CSV: a generated file of `--rows` rows x 20 numeric columns, loaded by tuneserve (CSV -> split,
 * standardised float32 matrices; with the byte reader, the default, and with csv-parse only) and by pandas.read_csv (Debian's python3-pandas, installed on demand),
 * each in a fresh process, alternating, best of `--repeat`. Memory is each process's peak resident
 * size above its size before the load, compared with the float32 matrix (rows x 20 x 4 bytes).
 * Targets: time <= 2x pandas, memory <= 2x the float32 matrix.
 *
 * Images: `--images` generated 64x64 PNGs in 10 class folders, loaded (header pass, decode, resize to
 * 32x32) by the image-folder loader one image at a time on one libvips thread, then with its default
 * (several at once, libuv's pool on every core). Target: >= 1.6x the single-threaded rate.
 *
 *   npm run bench:data -- [--rows 1000000] [--images 10000] [--repeat 2] [--only csv|images] [--dir DIR]
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { seededRandom } from '@tuneserve/client';
import sharp from 'sharp';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    images: { type: 'string', default: '10000' },
    repeat: { type: 'string', default: '2' },
    only: { type: 'string' },
    dir: { type: 'string', default: join(tmpdir(), 'tuneserve-bench-data') },
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

const rows = positiveInt('rows', values.rows);
const imageCount = positiveInt('images', values.images);
const repeat = positiveInt('repeat', values.repeat);
const COLUMNS = 20;
const PYTHON = '/usr/bin/python3';
const MEASURE = fileURLToPath(new URL('./measure.js', import.meta.url));
mkdirSync(values.dir, { recursive: true });

interface Run {
  seconds: number;
  peakBytes: number;
  summary?: string;
}

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const s = (seconds: number) => `${seconds.toFixed(2)} s`;

function run(command: string, args: string[]): Run {
  const out = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (out.status !== 0) {
    console.error(`${command} ${args.join(' ')} failed:\n${out.stderr}`);
    process.exit(1);
  }
  return JSON.parse(out.stdout.trim().split('\n').pop()!) as Run;
}

async function writeCsv(file: string): Promise<void> {
  const random = seededRandom(42);
  const out = createWriteStream(file);
  const header = Array.from({ length: COLUMNS }, (_, c) => (c === COLUMNS - 1 ? 'target' : `x${c}`)).join(',');
  out.write(`${header}\n`);
  let chunk = '';
  for (let r = 0; r < rows; r++) {
    const cells: string[] = [];
    for (let c = 0; c < COLUMNS; c++) cells.push(((random() - 0.5) * 200).toFixed(6));
    chunk += `${cells.join(',')}\n`;
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
      chunk = '';
    }
  }
  out.end(chunk);
  await new Promise<void>((r) => out.once('finish', () => r()));
}

function ensurePandas(): void {
  if (spawnSync(PYTHON, ['-c', 'import pandas']).status === 0) return;
  console.log('pandas missing: apt-get install -y python3-pandas');
  const apt = spawnSync('apt-get', ['install', '-y', 'python3-pandas'], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (apt.status !== 0 || spawnSync(PYTHON, ['-c', 'import pandas']).status !== 0) {
    console.error('could not install python3-pandas; the CSV baseline needs it');
    process.exit(1);
  }
}

const PANDAS = `
import json, sys, time
import pandas as pd
def status(field):
    for line in open('/proc/self/status'):
        if line.startswith(field + ':'):
            return int(line.split()[1]) * 1024
before = status('VmRSS')
start = time.perf_counter()
frame = pd.read_csv(sys.argv[1])
seconds = time.perf_counter() - start
print(json.dumps({'seconds': seconds, 'peakBytes': status('VmHWM') - before, 'summary': f'{frame.shape[0]} rows x {frame.shape[1]} columns, {pd.__version__}'}))
`;

async function benchCsv(): Promise<void> {
  const file = join(values.dir, `numeric-${rows}x${COLUMNS}.csv`);
  if (!existsSync(file)) {
    console.log(`writing ${file} ...`);
    await writeCsv(file);
  }
  ensurePandas();
  const matrix = rows * COLUMNS * 4;
  console.log(
    `\nCSV: ${rows} rows x ${COLUMNS} numeric columns, ${mb(statSync(file).size)} on disk; float32 matrix ${mb(matrix)}`,
  );
  const ours: Run[] = [];
  const pandas: Run[] = [];
  const csvParse: Run[] = [];
  for (let i = 0; i < repeat; i++) {
    pandas.push(run(PYTHON, ['-c', PANDAS, file]));
    ours.push(run(process.execPath, [MEASURE, 'csv', file]));
    csvParse.push(run(process.execPath, [MEASURE, 'csv', file, 'csv-parse']));
    console.log(
      `  run ${i + 1}: pandas.read_csv ${s(pandas[i]!.seconds)} (${mb(pandas[i]!.peakBytes)}), ` +
        `tuneserve ${s(ours[i]!.seconds)} (${mb(ours[i]!.peakBytes)}), tuneserve with csv-parse only ${s(csvParse[i]!.seconds)} (${mb(csvParse[i]!.peakBytes)})`,
    );
  }
  const best = (runs: Run[]) => runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  const p = best(pandas);
  const o = best(ours);
  const peakOurs = Math.min(...ours.map((r) => r.peakBytes));
  const peakPandas = Math.min(...pandas.map((r) => r.peakBytes));
  const parsed = best(csvParse);
  const peakParsed = Math.min(...csvParse.map((r) => r.peakBytes));
  console.log(`  pandas:    ${p.summary}`);
  console.log(`  tuneserve: ${o.summary}`);
  console.log('  | | pandas.read_csv | tuneserve | ratio | target |');
  console.log('  |---|---|---|---|---|');
  console.log(
    `  | time (best of ${repeat}) | ${s(p.seconds)} | ${s(o.seconds)} | ${(o.seconds / p.seconds).toFixed(2)}x pandas | <= 2x |`,
  );
  console.log(
    `  | peak memory above start | ${mb(peakPandas)} (${(peakPandas / matrix).toFixed(2)}x matrix) | ${mb(peakOurs)} | ${(peakOurs / matrix).toFixed(2)}x the float32 matrix | <= 2x |`,
  );
  console.log(
    `  | csv-parse only (byteReader: false; the reader before the byte reader) | | ${s(parsed.seconds)}, ${mb(peakParsed)} | ${(parsed.seconds / p.seconds).toFixed(2)}x pandas, ${(peakParsed / matrix).toFixed(2)}x matrix | |`,
  );
}

async function writeImages(dir: string): Promise<void> {
  const random = seededRandom(7);
  const size = 64;
  for (let i = 0; i < imageCount; i++) {
    const cls = join(dir, `class${i % 10}`);
    if (i < 10) mkdirSync(cls, { recursive: true });
    const pixels = Buffer.alloc(size * size * 3);
    const base = [(i % 10) * 25, 255 - (i % 10) * 25, 128];
    for (let p = 0; p < size * size; p++) {
      for (let c = 0; c < 3; c++) pixels[p * 3 + c] = Math.min(255, base[c]! + Math.floor(random() * 60));
    }
    writeFileSync(
      join(cls, `${i}.png`),
      await sharp(pixels, { raw: { width: size, height: size, channels: 3 } })
        .png()
        .toBuffer(),
    );
  }
}

async function benchImages(): Promise<void> {
  const dir = join(values.dir, `png-${imageCount}`);
  const count = () => readdirSync(dir).reduce((n, c) => n + readdirSync(join(dir, c)).length, 0);
  if (!existsSync(dir) || count() !== imageCount) {
    console.log(`writing ${imageCount} PNGs to ${dir} ...`);
    await writeImages(dir);
  }
  console.log(`\nImages: ${imageCount} 64x64 PNGs in 10 class folders, header pass + decode + resize to 32x32`);
  const single: Run[] = [];
  const both: Run[] = [];
  for (let i = 0; i < repeat; i++) {
    single.push(run(process.execPath, [MEASURE, 'images', dir, 'single']));
    both.push(run(process.execPath, [MEASURE, 'images', dir, 'both']));
    console.log(`  run ${i + 1}: single-threaded ${s(single[i]!.seconds)}, both cores ${s(both[i]!.seconds)}`);
  }
  const a = Math.min(...single.map((r) => r.seconds));
  const b = Math.min(...both.map((r) => r.seconds));
  console.log('  | | single-threaded | both cores | speedup | target |');
  console.log('  |---|---|---|---|---|');
  console.log(
    `  | images/s (best of ${repeat}) | ${(imageCount / a).toFixed(0)} (${s(a)}) | ${(imageCount / b).toFixed(0)} (${s(b)}) | ${(a / b).toFixed(2)}x | >= 1.6x |`,
  );
}

console.log(
  `bench:data — ${cpus().length} CPUs, load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')} at start`,
);
if (values.only !== 'images') await benchCsv();
if (values.only !== 'csv') await benchImages();
console.log(
  `\nload average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')} at end`,
);
