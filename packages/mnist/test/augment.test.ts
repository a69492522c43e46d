/** Shift augmentation: exact pixel moves, every image once per pass with its own label, a new draw every pass. */
import * as tf from '@tensorflow/tfjs';
import { type Dataset, loadDataset } from '@tuneserve/data';
import { augmentedBatches, buildMlp, fitModel, limitSamples } from '@tuneserve/pipeline';
import { initBackend } from '@tuneserve/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { shiftAugmentation, shiftImage } from '../src/augment.js';

let data: Dataset;
beforeAll(async () => {
  await initBackend({ log: false });
  data = limitSamples(await loadDataset('mnist'), 1000);
});

/** A 3x4 image with distinct values 1..12, row-major. */
const image = Float32Array.from({ length: 12 }, (_, i) => i + 1);
const moved = (dx: number, dy: number) => {
  const out = new Float32Array(12).fill(-1);
  shiftImage(image, 0, out, 0, 3, 4, dx, dy);
  return Array.from(out);
};

describe('shiftImage', () => {
  it('moves pixels right/down by dx/dy and fills the uncovered border with zeros', () => {
    expect(moved(0, 0)).toEqual(Array.from(image));
    expect(moved(1, 0)).toEqual([0, 1, 2, 3, 0, 5, 6, 7, 0, 9, 10, 11]);
    expect(moved(-1, 1)).toEqual([0, 0, 0, 0, 2, 3, 4, 0, 6, 7, 8, 0]);
    expect(moved(2, -2)).toEqual([0, 0, 9, 10, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(moved(4, 0)).toEqual(new Array(12).fill(0));
    expect(moved(0, -3)).toEqual(new Array(12).fill(0));
  });
});

describe('shift augmentation in augmented batches', () => {
  // Pixel p of image i holds 100 (i + 1) + p + 1: every value names its image and its place in it.
  const count = 10;
  const images = new Float32Array(count * 12);
  for (let i = 0; i < count; i++) for (let p = 0; p < 12; p++) images[i * 12 + p] = 100 * (i + 1) + p + 1;
  const labels = Float32Array.from({ length: count }, (_, i) => i % 3);

  async function pass(maxShift: number): Promise<{ x: number[][]; y: number[] }> {
    const dataset = augmentedBatches({
      x: images,
      y: labels,
      count,
      exampleShape: [12],
      batchSize: 4,
      augmentation: shiftAugmentation(3, 4, maxShift),
    });
    const x: number[][] = [];
    const y: number[] = [];
    const sizes: number[] = [];
    await dataset.forEachAsync(({ xs, ys }) => {
      sizes.push(xs.shape[0]);
      const rows = xs.arraySync() as number[][];
      x.push(...rows);
      y.push(...(ys.arraySync() as number[]));
      tf.dispose([xs, ys]);
    });
    expect(sizes).toEqual([4, 4, 2]);
    return { x, y };
  }

  it('yields every image once per pass, shuffled, with its label', async () => {
    const { x, y } = await pass(0);
    const ids = x.map((row) => Math.floor((row[0] ?? 0) / 100) - 1);
    expect([...ids].sort((a, b) => a - b)).toEqual([...Array(count).keys()]);
    expect(ids).not.toEqual([...Array(count).keys()]); // 1 in 10! to fail by chance
    expect(y).toEqual(ids.map((id) => id % 3));
  });

  it('shifts each image by at most maxShift, drawn again on every pass', async () => {
    const seen = new Set<string>();
    for (let p = 0; p < 4; p++) {
      const { x } = await pass(1);
      for (const row of x) {
        const kept = row.map((v, at) => ({ v, at })).filter(({ v }) => v > 0);
        const source = Math.floor((kept[0]?.v ?? 0) / 100) - 1;
        // One offset moved every kept pixel (all from the same image), within one pixel each way.
        const offsets = new Set(
          kept.map(({ v, at }) => {
            const from = (v % 100) - 1;
            expect(Math.floor(v / 100) - 1).toBe(source);
            return `${(at % 4) - (from % 4)},${Math.floor(at / 4) - Math.floor(from / 4)}`;
          }),
        );
        expect(offsets.size).toBe(1);
        const [dx, dy] = [...offsets][0]!.split(',').map(Number);
        expect(Math.abs(dx!)).toBeLessThanOrEqual(1);
        expect(Math.abs(dy!)).toBeLessThanOrEqual(1);
        // Exactly the pixels that stay inside the frame survive.
        expect(kept.length).toBe((4 - Math.abs(dx!)) * (3 - Math.abs(dy!)));
        seen.add(row.join(','));
      }
    }
    expect(seen.size).toBeGreaterThan(count); // the same image came out shifted differently across passes
  });
});

describe('fitModel with shift augmentation', () => {
  it('trains from shifted batches with validation and leaves no tensor behind', async () => {
    const model = buildMlp({
      units: [32],
      optimizer: 'adam',
      inputShape: [784],
      head: { task: 'classification', classes: 10 },
    });
    const augmentation = shiftAugmentation(28, 28, 2);
    await fitModel(model, data.train, { epochs: 1, batchSize: 64, augmentation }); // creates Adam's slots
    const before = tf.memory().numTensors;
    const history = await fitModel(model, data.train, {
      epochs: 2,
      batchSize: 64,
      validation: data.val,
      augmentation,
    });
    expect(history.val_loss).toHaveLength(2);
    expect(history.val_acc?.[1]).toBeGreaterThan(0.5); // well above chance on a small subset
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});
