/**
 * Training-time augmentation: every epoch sees each image moved by a random whole-pixel offset of up to `maxShift`
 * pixels in each direction (zero fill). A dense network has no notion of neighbouring pixels, so a digit one pixel
 * off is a new input to it; shifted copies teach it what a CNN's weight sharing gives for free, and its validation
 * loss keeps falling for many more epochs instead of turning up after a few (measured in docs/benchmarks-changelog.md, Pipeline).
 */
import * as tf from '@tensorflow/tfjs';

/** Copies image `src` (rows x cols at srcAt) to `dst` at dstAt, moved right by dx and down by dy, zero-filled. */
export function shiftImage(
  src: Float32Array,
  srcAt: number,
  dst: Float32Array,
  dstAt: number,
  rows: number,
  cols: number,
  dx: number,
  dy: number,
): void {
  dst.fill(0, dstAt, dstAt + rows * cols);
  const c0 = Math.max(0, dx);
  const c1 = Math.min(cols, cols + dx);
  if (c1 <= c0) return;
  for (let r = Math.max(0, dy); r < Math.min(rows, rows + dy); r++) {
    const from = srcAt + (r - dy) * cols - dx;
    dst.set(src.subarray(from + c0, from + c1), dstAt + r * cols + c0);
  }
}

export interface ShiftedBatchesOptions {
  images: Float32Array;
  /** Class labels as floats (TF.js's sparse crossentropy wants float32). */
  labels: Float32Array;
  count: number;
  rows: number;
  cols: number;
  batchSize: number;
  maxShift: number;
  /** Uniform [0, 1) source for the order and the offsets. */
  random?: () => number;
}

/**
 * A dataset of shuffled batches {xs: [n, rows*cols], ys: [n]} whose images are freshly shifted on every pass (TF.js's
 * fitDataset iterates it once per epoch), for `LayersModel.fitDataset`.
 */
export function shiftedBatches(o: ShiftedBatchesOptions): tf.data.Dataset<{ xs: tf.Tensor2D; ys: tf.Tensor1D }> {
  const random = o.random ?? Math.random;
  const size = o.rows * o.cols;
  const span = 2 * o.maxShift + 1;
  return tf.data.generator(function* () {
    const order = new Int32Array(o.count);
    for (let i = 0; i < o.count; i++) order[i] = i;
    for (let i = o.count - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      const t = order[i] as number;
      order[i] = order[j] as number;
      order[j] = t;
    }
    for (let start = 0; start < o.count; start += o.batchSize) {
      const n = Math.min(o.batchSize, o.count - start);
      const xs = new Float32Array(n * size);
      const ys = new Float32Array(n);
      for (let b = 0; b < n; b++) {
        const index = order[start + b] as number;
        const dx = Math.floor(random() * span) - o.maxShift;
        const dy = Math.floor(random() * span) - o.maxShift;
        shiftImage(o.images, index * size, xs, b * size, o.rows, o.cols, dx, dy);
        ys[b] = o.labels[index] as number;
      }
      yield { xs: tf.tensor2d(xs, [n, size]), ys: tf.tensor1d(ys) };
    }
  });
}
