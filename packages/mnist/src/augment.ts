/**
 * Shift augmentation for flat square images: every epoch sees each image moved by a random whole-pixel offset of up
 * to `maxShift` pixels in each direction (zero fill). A dense network has no notion of neighbouring pixels, so a digit
 * one pixel off is a new input to it; shifted copies teach it what a CNN's weight sharing gives for free, and its
 * validation loss keeps falling for many more epochs instead of turning up after a few (docs/benchmarks-changelog.md, Pipeline).
 */
import type { Augmentation } from '@tuneserve/pipeline';

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

/** Moves each rows x cols image by (dx, dy), each drawn uniformly from [-maxShift, maxShift]. */
export function shiftAugmentation(rows: number, cols: number, maxShift: number): Augmentation {
  const span = 2 * maxShift + 1;
  return {
    description: `images shifted up to ${maxShift} px`,
    apply(src, srcAt, dst, dstAt, random) {
      const dx = Math.floor(random() * span) - maxShift;
      const dy = Math.floor(random() * span) - maxShift;
      shiftImage(src, srcAt, dst, dstAt, rows, cols, dx, dy);
    },
  };
}
