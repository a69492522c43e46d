/**
 * PNGs already at the model's input size, decoded in-process by pngjs instead of sharp. For a small
 * image (a 32x32 photo, a 28x28 digit) sharp's fixed cost per call — a libvips pipeline built and run
 * through libuv's thread pool, about 1 ms — is many times the decode itself (~50 µs here). Only files
 * whose pixels need no resize, no colour management and no orientation take this path, and it gives
 * exactly the bytes sharp's pipeline in image.ts gives (transform-image.test.ts compares the two over
 * generated images of every colour type, bit depth and transparency); anything else returns undefined
 * and goes to sharp.
 */
import type { ImageInput } from '@tuneserve/client';
import pngjs from 'pngjs';

export interface PngHeader {
  width: number;
  height: number;
  /** Bits per sample: 1, 2, 4, 8 or 16. */
  depth: number;
  /** 0 gray, 2 RGB, 3 palette, 4 gray + alpha, 6 RGBA. */
  colorType: number;
  interlaced: boolean;
}

/** The IHDR chunk (always first after the signature), read before any pixel is decoded; undefined if malformed. */
export function readPngHeader(bytes: Uint8Array): PngHeader | undefined {
  if (bytes.length < 33) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(8) !== 13 || chunkType(bytes, 12) !== 'IHDR') return undefined;
  return {
    width: view.getUint32(16),
    height: view.getUint32(20),
    depth: bytes[24]!,
    colorType: bytes[25]!,
    interlaced: bytes[28] !== 0,
  };
}

function chunkType(bytes: Uint8Array, at: number): string {
  return String.fromCharCode(bytes[at]!, bytes[at + 1]!, bytes[at + 2]!, bytes[at + 3]!);
}

/**
 * Chunks that do not change what sharp decodes. Any other (iCCP: sharp converts by the profile; eXIf: it
 * orients; gAMA, cHRM, sBIT, acTL, ...) sends the file to sharp rather than guess how libvips reads it.
 */
const NEUTRAL_CHUNKS = new Set(['IHDR', 'PLTE', 'tRNS', 'IDAT', 'IEND', 'tEXt', 'zTXt', 'iTXt', 'tIME', 'pHYs']);

/** The file's chunk types when all are neutral and it ends with IEND; undefined otherwise. */
function neutralChunks(bytes: Uint8Array): Set<string> | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const seen = new Set<string>();
  let at = 8;
  while (at + 8 <= bytes.length) {
    const type = chunkType(bytes, at + 4);
    if (!NEUTRAL_CHUNKS.has(type)) return undefined;
    seen.add(type);
    if (type === 'IEND') return seen;
    at += 12 + view.getUint32(at);
  }
  return undefined; // truncated: let sharp say what is wrong
}

/**
 * HWC bytes with the schema's channels, as sharp's flatten-onto-white → channels → resize → raw pipeline
 * gives them, or undefined when this file needs sharp (other size, interlaced, colour to gray, a chunk
 * that changes pixels, 16-bit samples with transparency or to gray, or anything pngjs refuses — sharp then
 * reports the error).
 */
export function decodePngAtSize(schema: ImageInput, bytes: Uint8Array, header: PngHeader): Uint8Array | undefined {
  const gray = header.colorType === 0 || header.colorType === 4;
  if (
    header.width !== schema.width ||
    header.height !== schema.height ||
    header.interlaced ||
    (schema.channels === 1 && !gray) ||
    (schema.channels !== 1 && schema.channels !== 3)
  )
    return undefined;
  const chunks = neutralChunks(bytes);
  if (!chunks) return undefined;
  const deep = header.depth === 16;
  // 16-bit: only opaque gray/RGB to RGB, where libvips keeps the high byte; its flatten and gray paths differ.
  if (deep && (schema.channels !== 3 || (header.colorType & 4) !== 0 || chunks.has('tRNS'))) return undefined;
  let rgba: ArrayLike<number>;
  try {
    // RGBA: palette expanded, tRNS applied as alpha, 1/2/4-bit samples scaled to 0..255, 16-bit kept as is.
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    rgba = pngjs.PNG.sync.read(buffer, { skipRescale: deep }).data as ArrayLike<number>;
  } catch {
    return undefined;
  }
  const pixels = schema.width * schema.height;
  if (rgba.length !== pixels * 4) return undefined;
  const channels = schema.channels;
  const out = new Uint8Array(pixels * channels);
  if (deep) {
    for (let p = 0; p < pixels; p++) for (let c = 0; c < 3; c++) out[p * 3 + c] = rgba[p * 4 + c]! >> 8;
    return out;
  }
  if (header.colorType !== 4 && header.colorType !== 6 && !chunks.has('tRNS')) {
    // No alpha anywhere: flattening changes nothing, the samples are the answer.
    for (let p = 0; p < pixels; p++) for (let c = 0; c < channels; c++) out[p * channels + c] = rgba[p * 4 + c]!;
    return out;
  }
  for (let p = 0; p < pixels; p++) {
    const a = rgba[p * 4 + 3]!;
    // libvips' flatten on 8-bit samples: (c·a + background·(255 − a)) / 255, truncated; background white. The
    // shifts are that division, exact for every x = c·a + 255·(255 − a) <= 65025 (checked over the whole range).
    const over = 255 * (255 - a);
    for (let c = 0; c < channels; c++) {
      const x = rgba[p * 4 + c]! * a + over;
      out[p * channels + c] = (x + 1 + (x >> 8)) >> 8;
    }
  }
  return out;
}
