/**
 * One measured load in a fresh process (so peak memory is this load's alone), printed as JSON:
 *   node measure.js csv <file> [csv-parse] load a CSV with @tuneserve/data (`csv-parse`: without the byte reader)
 *   node measure.js images <dir> single   decode one image at a time on one libvips thread
 *   node measure.js images <dir> both     the loader's default: several at once, every core
 * Peak memory is the kernel's high-water mark (VmHWM) minus the resident size before loading.
 */
import { readFileSync } from 'node:fs';
import { loadCsv, loadImageFolder } from '@tuneserve/data';
import sharp from 'sharp';

function status(field: 'VmRSS' | 'VmHWM'): number {
  const line = readFileSync('/proc/self/status', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${field}:`));
  return Number(line?.replace(/\D+/g, '') ?? 0) * 1024;
}

const [kind, path, mode] = process.argv.slice(2);
if (!path || (kind !== 'csv' && kind !== 'images')) {
  console.error('usage: measure.js csv <file> [csv-parse] | images <dir> single|both');
  process.exit(2);
}
if (mode === 'single') sharp.concurrency(1);
const before = status('VmRSS');
const start = performance.now();
const data =
  kind === 'csv'
    ? await loadCsv(path, {
        task: 'regression',
        ...(mode === 'csv-parse' ? { byteReader: false } : {}),
      })
    : await loadImageFolder(path, mode === 'single' ? { concurrency: 1 } : {});
const seconds = (performance.now() - start) / 1000;
const peak = status('VmHWM');
console.log(
  JSON.stringify({
    seconds,
    peakBytes: peak - before,
    examples: data.train.count + data.val.count + data.test.count,
    summary: data.summary,
    threads: sharp.concurrency(),
  }),
);
