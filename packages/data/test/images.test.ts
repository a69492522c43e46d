import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ImageInput } from '@tuneserve/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError, type Dataset, decodeImage, loadDataset } from '../src/index.js';
import { CLASS_COLOURS, colourFolder, colourImage, grayImage } from './fixtures.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'data-images-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Mean of channel c over a split's examples of class k. */
function channelMean(data: Dataset, k: number, c: number): number {
  const [h, w, ch] = data.inputShape as [number, number, number];
  let sum = 0;
  let n = 0;
  for (let i = 0; i < data.train.count; i++) {
    if (data.train.y[i] !== k) continue;
    for (let p = 0; p < h * w; p++) sum += data.train.x[i * h * w * ch + p * ch + c]!;
    n += h * w;
  }
  return sum / n;
}

describe('a colour image folder with three classes', () => {
  let data: Dataset;
  let root: string;
  let progress = 0;
  beforeAll(async () => {
    root = await colourFolder(join(dir, 'colours'), 20, { sizes: true, formats: true });
    await writeFile(join(root, 'red', 'notes.txt'), 'not an image');
    data = await loadDataset(root, { onProgress: (done) => (progress = done) });
  });

  it('takes class names from the folders, RGB, a size chosen from the data, and says so', () => {
    expect(data.name).toBe('colours');
    expect(data.output).toEqual({ task: 'classification', labels: ['blue', 'green', 'red'] });
    expect(data.input).toEqual({ kind: 'image', width: 32, height: 32, channels: 3, fit: 'cover', layout: 'hwc' });
    expect(data.inputShape).toEqual([32, 32, 3]);
    expect(data.summary).toBe(
      'colours: 60 images in 3 classes (blue, green, red), classification; image size 32x32 (median image 56x40, centre-cropped to a square of at most 32), RGB (colour images); split 48/6/6 train/val/test (val random, test random, stratified, seed 0); 1 non-image files ignored',
    );
    expect(progress).toBe(60);
  });

  it('decodes pixels that carry the classes (red images are red)', () => {
    const red = data.output.task === 'classification' ? data.output.labels.indexOf('red') : -1;
    expect(channelMean(data, red, 0)).toBeGreaterThan(0.8);
    expect(channelMean(data, red, 2)).toBeLessThan(0.25);
  });

  it('gives the same values as decodeImage on the file (the server path)', async () => {
    const rel = (data.split.test as { files: string[] }).files[0]!;
    const served = await decodeImage(data.input as ImageInput, await readFile(join(root, rel)));
    const rowSize = 32 * 32 * 3;
    expect(Array.from(served)).toEqual(Array.from(data.test.x.subarray(0, rowSize)));
  });

  it('records the split as file lists and reuses it', async () => {
    const record = JSON.parse(JSON.stringify(data.split));
    expect(record.test.files).toHaveLength(6);
    expect(record.test.files[0]).toMatch(/^(blue|green|red)\/\d+\.(png|jpg|webp)$/);
    const again = await loadDataset(root, { split: record, seed: 5 });
    expect(Array.from(again.test.y)).toEqual(Array.from(data.test.y));
    expect(Array.from(again.test.x)).toEqual(Array.from(data.test.x));
  });

  it('honours an explicit image size', async () => {
    const small = await loadDataset(root, { imageSize: { width: 12, height: 8 } });
    expect(small.inputShape).toEqual([8, 12, 3]);
  });
});

describe('train/ val/ test/ subfolders and grayscale', () => {
  it('uses the folder split and grayscale when every image is gray', async () => {
    const root = join(dir, 'digits');
    for (const part of ['train', 'test']) {
      for (const [k, cls] of ['dark', 'light', 'mid'].entries()) {
        await mkdir(join(root, part, cls), { recursive: true });
        for (let i = 0; i < (part === 'train' ? 10 : 3); i++) {
          await writeFile(join(root, part, cls, `${i}.png`), await grayImage(16, 16, 40 + 80 * k));
        }
      }
    }
    const data = await loadDataset(root);
    expect(data.input).toEqual({ kind: 'image', width: 16, height: 16, channels: 1, fit: 'fill', layout: 'hwc' });
    expect([data.train.count, data.val.count, data.test.count]).toEqual([27, 3, 9]);
    expect(data.split.source).toEqual({ val: 'random', test: 'given' });
    expect((data.split.test as { files: string[] }).files.every((f) => f.startsWith('test/'))).toBe(true);
    expect(data.summary).toContain('grayscale (every image is grayscale)');
    expect(data.summary).toContain('val random, test given');
  });
});

describe('bad image folders: one DataError naming the file', () => {
  async function folder(name: string, build: (root: string) => Promise<void>): Promise<string> {
    const root = join(dir, name);
    await colourFolder(root, 4);
    await build(root);
    return root;
  }
  const expectError = async (root: string, message: RegExp, options = {}) => {
    const err = await loadDataset(root, options).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toContain('\n');
  };

  it('a truncated image', async () => {
    const root = await folder('truncated', async (r) => {
      const png = await colourImage(CLASS_COLOURS.red!, 64, 64, 9);
      await writeFile(join(r, 'red', 'broken.png'), png.subarray(0, png.length - 50));
    });
    await expectError(root, /truncated[/\\]red[/\\]broken\.png: cannot decode PNG image: /);
  });

  it('an unreadable image (not an image at all)', async () => {
    const root = await folder('unreadable', async (r) => {
      await writeFile(join(r, 'green', 'fake.jpg'), 'hello');
    });
    await expectError(root, /green[/\\]fake\.jpg: unreadable image/);
  });

  it('an empty class folder', async () => {
    const root = await folder('empty', async (r) => {
      await mkdir(join(r, 'yellow'));
    });
    await expectError(root, /empty[/\\]yellow: empty class folder: no \.png, \.jpg, \.jpeg or \.webp images$/);
  });

  it('mixed channel counts, unless channels are given', async () => {
    const root = await folder('mixed', async (r) => {
      await writeFile(join(r, 'blue', 'gray.png'), await grayImage(24, 24, 100));
    });
    await expectError(
      root,
      /mixed: mixed channel counts: 1 grayscale images \(e\.g\. blue\/gray\.png\) and 12 colour ones/,
    );
    const data = await loadDataset(root, { channels: 3 });
    expect(data.inputShape).toEqual([24, 24, 3]);
  });

  it('a data set smaller than its splits need', async () => {
    const root = join(dir, 'tiny');
    for (const c of ['a', 'b']) {
      await mkdir(join(root, c), { recursive: true });
      await writeFile(join(root, c, '0.png'), await grayImage(4, 4, 9));
    }
    await expectError(root, /tiny: 2 examples are too few for a training split holding each of 2 classes/);
  });

  it('a single class, and regression asked of an image folder', async () => {
    const root = join(dir, 'single');
    await mkdir(join(root, 'only'), { recursive: true });
    await writeFile(join(root, 'only', '0.png'), await grayImage(4, 4, 9));
    await expectError(root, /single: needs at least two class folders .*found only 'only'/);
    await expectError(join(dir, 'colours'), /task regression does not apply/, { task: 'regression' });
  });
});
