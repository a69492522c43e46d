/**
 * MNIST-style preprocessing, as the data set itself was made: crop to the ink's bounding box,
 * scale to fit a 20x20 box keeping the aspect ratio (area-averaged, so edges are anti-aliased),
 * then paste into a 28x28 field so that the centre of mass lands on the field's centre.
 * Pure and DOM-free: the web page feeds it canvas alpha, the CLI feeds it pixels decoded by sharp.
 */

export const MNIST_SIDE = 28;
export const MNIST_BOX = 20;

/** A greyscale image: `data[y * width + x]` is the amount of ink in [0,1]. */
export interface InkImage {
  width: number;
  height: number;
  data: ArrayLike<number>;
}

export class EmptyImageError extends Error {
  override name = 'EmptyImageError';
  constructor() {
    super('the image has no ink: nothing to recognise');
  }
}

export class ImageShapeError extends Error {
  override name = 'ImageShapeError';
}

export interface PreprocessOptions {
  /** Pixels with at most this much ink count as background when finding the bounding box. */
  threshold?: number;
}

/** Returns 784 values in [0,1], row-major, ready for `instances`. */
export function toMnistInput(image: InkImage, options: PreprocessOptions = {}): Float32Array {
  const { width, height, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new ImageShapeError(`image size must be positive integers, got ${width}x${height}`);
  }
  if (data.length !== width * height) {
    throw new ImageShapeError(`expected ${width * height} pixels for ${width}x${height}, got ${data.length}`);
  }
  const box = inkBoundingBox(image, options.threshold ?? 0.05);
  if (!box) throw new EmptyImageError();

  // Fit the longer side of the bounding box to 20 px.
  const scale = MNIST_BOX / Math.max(box.width, box.height);
  const outW = Math.max(1, Math.round(box.width * scale));
  const outH = Math.max(1, Math.round(box.height * scale));
  const scaled = resampleArea(image, box, outW, outH);

  const field = new Float32Array(MNIST_SIDE * MNIST_SIDE);
  const com = centreOfMass({ width: outW, height: outH, data: scaled });
  const centre = (MNIST_SIDE - 1) / 2;
  // Integer shift (as MNIST did), kept inside the field so no ink is cut off.
  const dx = clamp(Math.round(centre - com.x), 0, MNIST_SIDE - outW);
  const dy = clamp(Math.round(centre - com.y), 0, MNIST_SIDE - outH);
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      field[(y + dy) * MNIST_SIDE + (x + dx)] = clamp(scaled[y * outW + x]!, 0, 1);
    }
  }
  return field;
}

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** The smallest rectangle holding every pixel with more than `threshold` ink, or undefined. */
export function inkBoundingBox(image: InkImage, threshold = 0): Box | undefined {
  const { width, height, data } = image;
  let minX = width;
  let minY = height;
  let maxX = -1;
  let maxY = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (data[y * width + x]! > threshold) {
        if (x < minX) minX = x;
        if (x > maxX) maxX = x;
        if (y < minY) minY = y;
        if (y > maxY) maxY = y;
      }
    }
  }
  if (maxX < 0) return undefined;
  return { x: minX, y: minY, width: maxX - minX + 1, height: maxY - minY + 1 };
}

/** Ink-weighted mean pixel position (pixel indices, so the centre of a 28 field is 13.5). */
export function centreOfMass(image: InkImage): { x: number; y: number } {
  let sum = 0;
  let sx = 0;
  let sy = 0;
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      const v = image.data[y * image.width + x]!;
      sum += v;
      sx += v * x;
      sy += v * y;
    }
  }
  if (sum === 0) return { x: (image.width - 1) / 2, y: (image.height - 1) / 2 };
  return { x: sx / sum, y: sy / sum };
}

/**
 * Resizes the `box` region to outW x outH. Each output pixel is the exact area-weighted mean of
 * the source pixels it covers, which anti-aliases when shrinking; when enlarging it samples
 * bilinearly so small drawings do not turn blocky.
 */
function resampleArea(image: InkImage, box: Box, outW: number, outH: number): Float32Array {
  const out = new Float32Array(outW * outH);
  const fx = box.width / outW;
  const fy = box.height / outH;
  if (fx < 1 && fy < 1) return resampleBilinear(image, box, outW, outH);
  for (let oy = 0; oy < outH; oy++) {
    const y0 = box.y + oy * fy;
    const y1 = y0 + fy;
    for (let ox = 0; ox < outW; ox++) {
      const x0 = box.x + ox * fx;
      const x1 = x0 + fx;
      let acc = 0;
      for (let sy = Math.floor(y0); sy < Math.ceil(y1); sy++) {
        const wy = Math.min(y1, sy + 1) - Math.max(y0, sy);
        if (wy <= 0) continue;
        for (let sx = Math.floor(x0); sx < Math.ceil(x1); sx++) {
          const wx = Math.min(x1, sx + 1) - Math.max(x0, sx);
          if (wx <= 0) continue;
          acc += wx * wy * pixel(image, sx, sy);
        }
      }
      out[oy * outW + ox] = acc / (fx * fy);
    }
  }
  return out;
}

function resampleBilinear(image: InkImage, box: Box, outW: number, outH: number): Float32Array {
  const out = new Float32Array(outW * outH);
  const fx = box.width / outW;
  const fy = box.height / outH;
  for (let oy = 0; oy < outH; oy++) {
    const sy = box.y + (oy + 0.5) * fy - 0.5;
    const y0 = Math.floor(sy);
    const ty = sy - y0;
    for (let ox = 0; ox < outW; ox++) {
      const sx = box.x + (ox + 0.5) * fx - 0.5;
      const x0 = Math.floor(sx);
      const tx = sx - x0;
      const top = pixelClamped(image, box, x0, y0) * (1 - tx) + pixelClamped(image, box, x0 + 1, y0) * tx;
      const bottom = pixelClamped(image, box, x0, y0 + 1) * (1 - tx) + pixelClamped(image, box, x0 + 1, y0 + 1) * tx;
      out[oy * outW + ox] = top * (1 - ty) + bottom * ty;
    }
  }
  return out;
}

function pixel(image: InkImage, x: number, y: number): number {
  if (x < 0 || y < 0 || x >= image.width || y >= image.height) return 0;
  return image.data[y * image.width + x]!;
}

function pixelClamped(image: InkImage, box: Box, x: number, y: number): number {
  return pixel(image, clamp(x, box.x, box.x + box.width - 1), clamp(y, box.y, box.y + box.height - 1));
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : Math.min(v, hi);
}

/**
 * Turns 8-bit greyscale pixels (0 black .. 255 white) into ink. Photos and scans of digits are
 * usually dark on light, MNIST is light on dark: with `invert: 'auto'` the border decides which.
 */
export function greyToInk(
  grey: ArrayLike<number>,
  width: number,
  height: number,
  invert: boolean | 'auto' = 'auto',
): InkImage {
  if (grey.length !== width * height) {
    throw new ImageShapeError(`expected ${width * height} grey pixels for ${width}x${height}, got ${grey.length}`);
  }
  const flip = invert === 'auto' ? borderMean(grey, width, height) > 127.5 : invert;
  const data = new Float32Array(width * height);
  for (let i = 0; i < data.length; i++) {
    const v = grey[i]! / 255;
    data[i] = flip ? 1 - v : v;
  }
  return { width, height, data };
}

function borderMean(grey: ArrayLike<number>, width: number, height: number): number {
  let sum = 0;
  let n = 0;
  for (let x = 0; x < width; x++) {
    sum += grey[x]! + grey[(height - 1) * width + x]!;
    n += 2;
  }
  for (let y = 1; y < height - 1; y++) {
    sum += grey[y * width]! + grey[y * width + width - 1]!;
    n += 2;
  }
  return sum / n;
}
