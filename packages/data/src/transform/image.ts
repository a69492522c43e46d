/**
 * The transform side of image preprocessing: decode (PNG, JPEG or WebP), orient by EXIF, drop alpha
 * onto white, convert to the schema's channels, resize with its fit, scale to [0, 1]. Training (the
 * image-folder loader) and serving call this same function, so a file predicts the same either way.
 * sharp (libvips) does the work, except for PNGs already at the model's size, which png-direct.ts decodes
 * in-process to the same bytes without sharp's ~1 ms fixed cost per call.
 */
import type { ImageInput } from '@tuneserve/client';
import sharp from 'sharp';
import { ImageDecodeError } from '../errors.js';
import { decodePngAtSize, readPngHeader } from './png-direct.js';

/** Decoded-pixel limit unless the caller sets one: ~50 megapixels, above any phone camera, far below what exhausts memory. */
export const DEFAULT_MAX_PIXELS = 50_000_000;

export type ImageFormat = 'png' | 'jpeg' | 'webp';

/** The format from the file's magic bytes; only these three are decoded (sharp would also run SVG, TIFF, PDF ...). */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  const b = bytes;
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (
    b.length >= 12 &&
    b[0] === 0x52 &&
    b[1] === 0x49 &&
    b[2] === 0x46 &&
    b[3] === 0x46 &&
    b[8] === 0x57 &&
    b[9] === 0x45 &&
    b[10] === 0x42 &&
    b[11] === 0x50
  ) {
    return 'webp';
  }
  return undefined;
}

export interface DecodeLimits {
  /** Largest width x height accepted, checked from the header before any pixel is decoded (decompression bombs). */
  maxPixels?: number;
}

/** Per-pixel values of the model input for one image: height * width * channels, row-major HWC. */
export async function decodeImage(
  schema: ImageInput,
  bytes: Uint8Array,
  limits: DecodeLimits = {},
): Promise<Float32Array> {
  const format = sniffImageFormat(bytes);
  if (!format) throw new ImageDecodeError('not a PNG, JPEG or WebP image');
  const maxPixels = limits.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (format === 'png') {
    // The header's size is checked before either decoder sees a pixel.
    const header = readPngHeader(bytes);
    if (header && header.width * header.height > maxPixels) tooLarge(maxPixels);
    const direct = header && decodePngAtSize(schema, bytes, header);
    if (direct) return modelValues(schema, direct);
  }
  return modelValues(schema, await decodeWithSharp(schema, bytes, format, maxPixels));
}

/** The general path: any size, colour space, orientation or format, through libvips. HWC 8-bit samples. */
export async function decodeWithSharp(
  schema: ImageInput,
  bytes: Uint8Array,
  format: ImageFormat,
  maxPixels: number,
): Promise<Uint8Array> {
  let data: Buffer;
  let channels: number;
  try {
    let pipeline = sharp(bytes, { limitInputPixels: maxPixels, autoOrient: true }).flatten({ background: '#ffffff' });
    pipeline = schema.channels === 1 ? pipeline.grayscale() : pipeline.toColourspace('srgb');
    const out = await pipeline
      .resize(schema.width, schema.height, { fit: schema.fit, background: '#000000' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    data = out.data;
    channels = out.info.channels;
  } catch (err) {
    // libvips reports one line per decoder warning; the first says what is wrong.
    const message = (err as Error).message.split('\n')[0]!.trim();
    if (/pixel limit/i.test(message)) tooLarge(maxPixels);
    throw new ImageDecodeError(`cannot decode ${format.toUpperCase()} image: ${message}`);
  }
  const size = schema.width * schema.height;
  if (channels !== schema.channels || data.length !== size * channels) {
    throw new ImageDecodeError(`decoded to ${channels} channels, expected ${schema.channels}`);
  }
  return data;
}

function tooLarge(maxPixels: number): never {
  throw new ImageDecodeError(`image is larger than ${maxPixels} pixels`, true);
}

/** Each 8-bit sample's model value, v / 255 and 1 - v / 255 (a table: the same floats, no division per sample). */
const SCALED = Float32Array.from({ length: 256 }, (_, v) => v / 255);
const INVERTED = Float32Array.from({ length: 256 }, (_, v) => 1 - v / 255);

/** 8-bit samples scaled to [0, 1] (inverted when the schema says so). */
function modelValues(schema: ImageInput, data: Uint8Array): Float32Array {
  const table = schema.invert ? INVERTED : SCALED;
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = table[data[i]!]!;
  return out;
}
