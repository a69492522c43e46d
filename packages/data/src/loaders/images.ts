/**
 * Image folders: `<folder>/<class>/*.png|jpg|jpeg|webp`, class names from the folder names, or the
 * same below `train/`, `val/` and `test/` when the data brings its own split. A header-only pass
 * (sharp metadata) picks the size and channels; then every file is decoded by the same
 * decodeImage the server uses, several at a time so libuv's thread pool keeps both cores busy.
 */

import { readdir, readFile, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, join, relative, resolve, sep } from 'node:path';
import type { ImageInput } from '@tuneserve/client';
import sharp from 'sharp';
import { DataError, ImageDecodeError } from '../errors.js';
import { checkRecord, DEFAULT_SEED, DEFAULT_TEST_SPLIT, DEFAULT_VAL_SPLIT, drawPartition } from '../split.js';
import { decodeImage } from '../transform/image.js';
import type { DataLoader, Dataset, LoadOptions, Split, SplitRecord } from '../types.js';

const IMAGE_FILE = /\.(png|jpe?g|webp)$/i;
const PARTS = { train: ['train', 'training'], val: ['val', 'valid', 'validation'], test: ['test', 'testing'] } as const;
type Part = keyof typeof PARTS;
/** Longest side chosen by default: small enough for a CNN on a CPU, as CIFAR's 32 x 32. */
const MAX_DEFAULT_SIDE = 32;

interface ImageFile {
  /** Path relative to the data folder, '/'-separated (recorded in the split). */
  rel: string;
  path: string;
  label: number;
  /** The part a given split put it in. */
  part?: Part;
}

async function subfolders(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

interface Listing {
  labels: string[];
  files: ImageFile[];
  /** Which parts the folder brings (train always, when any). */
  given: Set<Part>;
  ignored: number;
}

/** Lists the class folders (top level, or below train/ val/ test/) and their image files. */
async function listFolder(root: string): Promise<Listing> {
  const top = await subfolders(root);
  const partDirs = new Map<Part, string>();
  for (const name of top) {
    for (const [part, aliases] of Object.entries(PARTS) as [Part, readonly string[]][]) {
      if (aliases.includes(name.toLowerCase())) partDirs.set(part, name);
    }
  }
  const sources: { dir: string; part?: Part }[] = [];
  if (partDirs.size > 0) {
    if (!partDirs.has('train')) {
      throw new DataError(`has ${[...partDirs.values()].join('/')} folders but no train/ folder`, { file: root });
    }
    for (const [part, name] of partDirs) sources.push({ dir: join(root, name), part });
  } else {
    sources.push({ dir: root });
  }
  const trainDir = sources.find((s) => s.part === undefined || s.part === 'train')!.dir;
  const labels = await subfolders(trainDir);
  if (labels.length < 2) {
    throw new DataError(
      `needs at least two class folders (<class>/image.png), found ${labels.length === 0 ? 'none' : `only '${labels[0]}'`}`,
      { file: trainDir },
    );
  }
  const files: ImageFile[] = [];
  let ignored = 0;
  for (const { dir, part } of sources) {
    const classes = await subfolders(dir);
    for (const c of classes) {
      if (!labels.includes(c)) {
        throw new DataError(`class folder '${c}' is not among the training classes (${labels.join(', ')})`, {
          file: join(dir, c),
        });
      }
    }
    for (const [label, c] of labels.entries()) {
      const classDir = join(dir, c);
      if (!classes.includes(c)) {
        if (part === undefined || part === 'train') throw new DataError('class folder is missing', { file: classDir });
        continue;
      }
      const names = (await readdir(classDir, { withFileTypes: true }))
        .filter((e) => e.isFile())
        .map((e) => e.name)
        .sort();
      const images = names.filter((n) => IMAGE_FILE.test(n));
      ignored += names.length - images.length;
      if (images.length === 0) {
        throw new DataError('empty class folder: no .png, .jpg, .jpeg or .webp images', { file: classDir });
      }
      for (const n of images) {
        const path = join(classDir, n);
        files.push({ rel: relative(root, path).split(sep).join('/'), path, label, ...(part ? { part } : {}) });
      }
    }
  }
  return { labels, files, given: new Set(partDirs.keys()), ignored };
}

interface Header {
  width: number;
  height: number;
  gray: boolean;
}

/** Runs `task` over `items` with at most `limit` in flight, in order of index. */
async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await task(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Images decoded at once: enough to keep libuv's pool (4 threads) and every core busy. */
export function defaultDecodeConcurrency(): number {
  return Math.max(2, availableParallelism() * 2);
}

async function readHeaders(root: string, files: readonly ImageFile[], concurrency: number): Promise<Header[]> {
  const headers: Header[] = new Array(files.length);
  await eachLimited(files, concurrency, async (f, i) => {
    try {
      const m = await sharp(f.path).metadata();
      const { width, height } = m.autoOrient ?? m;
      headers[i] = { width, height, gray: m.channels <= 2 || m.space === 'b-w' || m.space === 'grey16' };
    } catch (err) {
      throw new DataError(`unreadable image (${(err as Error).message.split('\n')[0]})`, {
        file: join(basename(root), f.rel),
      });
    }
  });
  return headers;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** The schema's size: the user's, else the images' own when all equal and small, else a square from the median. */
function chooseSize(
  headers: Header[],
  o: LoadOptions,
): { width: number; height: number; fit: ImageInput['fit']; why: string } {
  if (o.imageSize) {
    const { width, height } = o.imageSize;
    if (
      !(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0 && width * height <= 1 << 20)
    ) {
      throw new DataError(`image size ${width}x${height} must be positive whole numbers of at most 1 megapixel`);
    }
    return { width, height, fit: 'cover', why: 'given' };
  }
  const first = headers[0]!;
  const same = headers.every((h) => h.width === first.width && h.height === first.height);
  if (same && Math.max(first.width, first.height) <= MAX_DEFAULT_SIDE) {
    return { width: first.width, height: first.height, fit: 'fill', why: 'every image is this size' };
  }
  const mw = median(headers.map((h) => h.width));
  const mh = median(headers.map((h) => h.height));
  const side = Math.max(8, Math.min(MAX_DEFAULT_SIDE, Math.min(mw, mh)));
  return {
    width: side,
    height: side,
    fit: 'cover',
    why: `median image ${mw}x${mh}, centre-cropped to a square of at most ${MAX_DEFAULT_SIDE}`,
  };
}

function chooseChannels(
  root: string,
  files: readonly ImageFile[],
  headers: Header[],
  o: LoadOptions,
): { channels: 1 | 3; why: string } {
  const gray = headers.filter((h) => h.gray).length;
  if (o.channels) return { channels: o.channels, why: 'given' };
  if (gray === headers.length) return { channels: 1, why: 'every image is grayscale' };
  if (gray === 0) return { channels: 3, why: 'colour images' };
  const example = files[headers.findIndex((h) => h.gray)]!.rel;
  throw new DataError(
    `mixed channel counts: ${gray} grayscale images (e.g. ${example}) and ${headers.length - gray} colour ones; ` +
      'pass --channels 3 to convert all to RGB or --channels 1 to grayscale',
    { file: root },
  );
}

export interface ImageFolderOptions extends LoadOptions {
  /** Images decoded at once (1: one at a time on one libvips thread, the benchmark's baseline). */
  concurrency?: number;
}

export async function loadImageFolder(path: string, o: ImageFolderOptions = {}): Promise<Dataset> {
  const root = resolve(path);
  const name = basename(root);
  if (o.task === 'regression')
    throw new DataError('image folders are classified by folder name; task regression does not apply', { file: path });
  const { labels, files, given, ignored } = await listFolder(root);
  const concurrency = o.concurrency ?? defaultDecodeConcurrency();
  const headers = await readHeaders(root, files, concurrency);
  const size = chooseSize(headers, o);
  const { channels, why: channelsWhy } = chooseChannels(path, files, headers, o);
  const input: ImageInput = {
    kind: 'image',
    width: size.width,
    height: size.height,
    channels,
    fit: size.fit,
    layout: 'hwc',
  };

  // Parts: the recorded split, else the folder's own, else drawn; the missing ones drawn from train.
  const total = files.length;
  const partOf = new Uint8Array(total); // 0 train, 1 val, 2 test
  const valSplit = o.split?.valSplit ?? o.valSplit ?? DEFAULT_VAL_SPLIT;
  const testSplit = o.split?.testSplit ?? o.testSplit ?? DEFAULT_TEST_SPLIT;
  const seed = o.split?.seed ?? o.seed ?? DEFAULT_SEED;
  let source: SplitRecord['source'];
  if (o.split) {
    checkRecord(o.split, name, total);
    const index = new Map(files.map((f, i) => [f.rel, i] as const));
    for (const [p, members] of [
      [1, o.split.val],
      [2, o.split.test],
    ] as const) {
      if (!('files' in members)) throw new DataError('split record: an image folder split lists files');
      for (const rel of members.files) {
        const i = index.get(rel);
        if (i === undefined)
          throw new DataError(`split record lists ${rel}, which is not in the folder`, { file: path });
        partOf[i] = p;
      }
    }
    source = o.split.source;
  } else {
    for (const [i, f] of files.entries()) partOf[i] = f.part === 'val' ? 1 : f.part === 'test' ? 2 : 0;
    source = { val: given.has('val') ? 'given' : 'random', test: given.has('test') ? 'given' : 'random' };
    const pool = files.flatMap((_, i) => (partOf[i] === 0 ? [i] : []));
    const drawn = drawPartition({
      name,
      total: pool.length,
      classes: pool.map((i) => files[i]!.label),
      valSplit: source.val === 'random' ? valSplit : 0,
      testSplit: source.test === 'random' ? testSplit : 0,
      seed,
    });
    for (const k of drawn.val) partOf[pool[k]!] = 1;
    for (const k of drawn.test) partOf[pool[k]!] = 2;
  }

  const counts = [0, 1, 2].map((p) => partOf.reduce((n, q) => n + (q === p ? 1 : 0), 0));
  for (const [p, label] of [
    [0, 'training'],
    [1, 'validation'],
    [2, 'test'],
  ] as const) {
    if (counts[p] === 0) throw new DataError(`${total} images leave the ${label} split empty`, { file: path });
  }
  const start = [0, counts[0]!, counts[0]! + counts[1]!];
  const destination = new Int32Array(total);
  const fill = [...start];
  for (let i = 0; i < total; i++) destination[i] = fill[partOf[i]!]!++;

  const rowSize = size.width * size.height * channels;
  const x = new Float32Array(total * rowSize);
  const y = new Float32Array(total);
  let done = 0;
  await eachLimited(files, concurrency, async (f, i) => {
    let pixels: Float32Array;
    try {
      pixels = await decodeImage(input, await readFile(f.path));
    } catch (err) {
      const problem = err instanceof ImageDecodeError ? err.message : `cannot read (${(err as Error).message})`;
      throw new DataError(problem, { file: join(path, f.rel) });
    }
    x.set(pixels, destination[i]! * rowSize);
    y[destination[i]!] = f.label;
    o.onProgress?.(++done, total);
  });

  const view = (p: number): Split => ({
    x: x.subarray(start[p]! * rowSize, (start[p]! + counts[p]!) * rowSize),
    y: y.subarray(start[p]!, start[p]! + counts[p]!),
    count: counts[p]!,
  });
  const list = (p: number) => files.flatMap((f, i) => (partOf[i] === p ? [f.rel] : []));
  const split: SplitRecord = {
    version: 1,
    dataset: name,
    total,
    seed,
    valSplit,
    testSplit,
    stratified: true,
    source,
    val: { files: list(1) },
    test: { files: list(2) },
  };
  const train = view(0);
  const val = view(1);
  const trainCount = counts[0]! + counts[1]!;
  const how = o.split
    ? 'recorded split'
    : [`val ${source.val}`, `test ${source.test}`, `stratified, seed ${seed}`].join(', ');
  return {
    name,
    task: 'classification',
    input,
    output: { task: 'classification', labels },
    inputShape: [size.height, size.width, channels],
    train,
    val,
    test: view(2),
    trainFull: () => ({ x: x.slice(0, trainCount * rowSize), y: y.slice(0, trainCount), count: trainCount }),
    split,
    summary:
      `${name}: ${total} images in ${labels.length} classes (${labels.slice(0, 8).join(', ')}${labels.length > 8 ? ', ...' : ''}), ` +
      `classification; image size ${size.width}x${size.height} (${size.why}), ${channels === 1 ? 'grayscale' : 'RGB'} (${channelsWhy}); ` +
      `split ${counts[0]}/${counts[1]}/${counts[2]} train/val/test (${how})` +
      (ignored > 0 ? `; ${ignored} non-image files ignored` : ''),
  };
}

export const imageFolderLoader: DataLoader = {
  name: 'images',
  async accepts(path) {
    if (!(await isDirectory(path))) return false;
    return (await subfolders(path)).length > 0;
  },
  load: loadImageFolder,
};
