import { crc32, deflateSync } from 'node:zlib';
import type { ImageInput } from '@tuneserve/client';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeImage, ImageDecodeError } from '../src/index.js';
import { decodeWithSharp } from '../src/transform/image.js';
import { decodePngAtSize, readPngHeader } from '../src/transform/png-direct.js';

/**
 * A PNG writer for the test's own variants: every colour type and bit depth, tRNS, palettes, extra chunks.
 * No encoder on npm writes all of them (pngjs: 8/16-bit gray/RGB(A) only; sharp: what libvips chooses).
 */
interface PngSpec {
  width: number;
  height: number;
  depth: 1 | 2 | 4 | 8 | 16;
  colorType: 0 | 2 | 3 | 4 | 6;
  /** One sample per channel per pixel, row-major, already in 0..2^depth-1 (palette: indices). */
  samples: number[];
  palette?: [number, number, number][];
  /** tRNS payload: palette alphas, or the transparent gray / RGB sample(s). */
  trns?: number[];
  interlaced?: boolean;
  /** Extra chunks written before IDAT. */
  extra?: { type: string; data: Buffer }[];
}

const CHANNELS = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 } as const;

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])));
  return Buffer.concat([head, data, crc]);
}

function writePng(s: PngSpec): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(s.width);
  ihdr.writeUInt32BE(s.height, 4);
  ihdr[8] = s.depth;
  ihdr[9] = s.colorType;
  ihdr[12] = s.interlaced ? 1 : 0;
  const perPixel = CHANNELS[s.colorType];
  const rowBytes = Math.ceil((s.width * perPixel * s.depth) / 8);
  // Filter type 0 on every row; sharp-written files in the other test cover the adaptive filters.
  const raw = Buffer.alloc((rowBytes + 1) * s.height);
  for (let y = 0; y < s.height; y++) {
    let bit = 0;
    const row = y * (rowBytes + 1) + 1;
    for (let i = 0; i < s.width * perPixel; i++) {
      const v = s.samples[y * s.width * perPixel + i]!;
      if (s.depth === 16) raw.writeUInt16BE(v, row + i * 2);
      else if (s.depth === 8) raw[row + i] = v;
      else {
        raw[row + (bit >> 3)]! |= v << (8 - s.depth - (bit & 7));
        bit += s.depth;
      }
    }
  }
  const parts = [Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr)];
  for (const e of s.extra ?? []) parts.push(chunk(e.type, e.data));
  if (s.palette) parts.push(chunk('PLTE', Buffer.from(s.palette.flat())));
  if (s.trns) {
    const t = Buffer.alloc(s.colorType === 3 ? s.trns.length : s.trns.length * 2);
    for (const [i, v] of s.trns.entries()) {
      if (s.colorType === 3) t[i] = v;
      else t.writeUInt16BE(v, i * 2);
    }
    parts.push(chunk('tRNS', t));
  }
  parts.push(chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0)));
  return Buffer.concat(parts);
}

/** Deterministic pseudo-random samples (a linear congruential generator: the same files every run). */
function samples(count: number, max: number, seed: number): number[] {
  let x = seed >>> 0;
  return Array.from({ length: count }, () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x % (max + 1);
  });
}

const schema = (width: number, height: number, channels: 1 | 3): ImageInput => ({
  kind: 'image',
  width,
  height,
  channels,
  fit: 'fill',
  layout: 'hwc',
});

/** The in-process decode of a file, or undefined when it defers to sharp. */
function direct(s: ImageInput, png: Buffer): Uint8Array | undefined {
  const header = readPngHeader(png);
  return header && decodePngAtSize(s, png, header);
}

const viaSharp = (s: ImageInput, png: Buffer) => decodeWithSharp(s, png, 'png', 1e9);

/** Every variant the in-process path takes, at 16x12, each with both channel counts the schema allows. */
function takenVariants(): { name: string; png: Buffer; channels: (1 | 3)[] }[] {
  const w = 16;
  const h = 12;
  const n = w * h;
  const out: { name: string; png: Buffer; channels: (1 | 3)[] }[] = [];
  let seed = 1;
  for (const depth of [1, 2, 4, 8] as const) {
    const max = 2 ** depth - 1;
    out.push({
      name: `gray ${depth}-bit`,
      png: writePng({ width: w, height: h, depth, colorType: 0, samples: samples(n, max, seed++) }),
      channels: [1, 3],
    });
    out.push({
      name: `gray ${depth}-bit + tRNS`,
      png: writePng({ width: w, height: h, depth, colorType: 0, samples: samples(n, max, seed++), trns: [max >> 1] }),
      channels: [1, 3],
    });
    const colours = 2 ** depth;
    const palette = Array.from({ length: colours }, (_, i) => samples(3, 255, seed + i) as [number, number, number]);
    out.push({
      name: `palette ${depth}-bit`,
      png: writePng({ width: w, height: h, depth, colorType: 3, samples: samples(n, max, seed++), palette }),
      channels: [3],
    });
    out.push({
      name: `palette ${depth}-bit + tRNS alphas`,
      png: writePng({
        width: w,
        height: h,
        depth,
        colorType: 3,
        samples: samples(n, max, seed++),
        palette,
        trns: samples(Math.max(1, colours >> 1), 255, seed++),
      }),
      channels: [3],
    });
  }
  out.push({
    name: 'RGB 8-bit',
    png: writePng({ width: w, height: h, depth: 8, colorType: 2, samples: samples(n * 3, 255, seed++) }),
    channels: [3],
  });
  const rgb = samples(n * 3, 3, seed++).map((v) => v * 85); // few colours, so the tRNS colour occurs
  out.push({
    name: 'RGB 8-bit + tRNS',
    png: writePng({ width: w, height: h, depth: 8, colorType: 2, samples: rgb, trns: [85, 0, 170] }),
    channels: [3],
  });
  out.push({
    name: 'gray 16-bit',
    png: writePng({ width: w, height: h, depth: 16, colorType: 0, samples: samples(n, 65535, seed++) }),
    channels: [3],
  });
  out.push({
    name: 'RGB 16-bit',
    png: writePng({ width: w, height: h, depth: 16, colorType: 2, samples: samples(n * 3, 65535, seed++) }),
    channels: [3],
  });
  out.push({
    name: 'gray + alpha 8-bit',
    png: writePng({ width: w, height: h, depth: 8, colorType: 4, samples: samples(n * 2, 255, seed++) }),
    channels: [1, 3],
  });
  out.push({
    name: 'RGBA 8-bit',
    png: writePng({ width: w, height: h, depth: 8, colorType: 6, samples: samples(n * 4, 255, seed++) }),
    channels: [3],
  });
  out.push({
    name: 'RGB 8-bit with text, time and resolution chunks',
    png: writePng({
      width: w,
      height: h,
      depth: 8,
      colorType: 2,
      samples: samples(n * 3, 255, seed++),
      extra: [
        { type: 'tEXt', data: Buffer.from('Comment\0made by the test', 'latin1') },
        { type: 'tIME', data: Buffer.from([7, 234, 12, 3, 18, 0, 0]) },
        { type: 'pHYs', data: Buffer.from([0, 0, 11, 19, 0, 0, 11, 19, 1]) },
      ],
    }),
    channels: [3],
  });
  return out;
}

describe('PNGs at the model size, decoded in-process (png-direct)', () => {
  it('gives exactly the bytes sharp gives for every colour type, bit depth and transparency', async () => {
    // 8-bit and below in every form; 16-bit opaque gray/RGB to RGB (the high byte, as libvips keeps it).
    const variants = takenVariants();
    expect(variants.length).toBe(23);
    for (const v of variants) {
      for (const channels of v.channels) {
        const s = schema(16, 12, channels);
        const mine = direct(s, v.png);
        expect(mine, `${v.name} -> ${channels} channel(s) should take the in-process path`).toBeDefined();
        expect(Buffer.from(mine!).equals(Buffer.from(await viaSharp(s, v.png))), `${v.name} -> ${channels}`).toBe(true);
      }
    }
  });

  it('flattens every (sample, alpha) pair onto white as libvips does', async () => {
    // 256 x 256: x is the sample, y the alpha; RGB carries x, 255 - x and x ^ y.
    const rgba: number[] = [];
    const ga: number[] = [];
    for (let y = 0; y < 256; y++)
      for (let x = 0; x < 256; x++) {
        rgba.push(x, 255 - x, x ^ y, y);
        ga.push(x, y);
      }
    const cases: [Buffer, 1 | 3][] = [
      [writePng({ width: 256, height: 256, depth: 8, colorType: 6, samples: rgba }), 3],
      [writePng({ width: 256, height: 256, depth: 8, colorType: 4, samples: ga }), 1],
      [writePng({ width: 256, height: 256, depth: 8, colorType: 4, samples: ga }), 3],
    ];
    for (const [png, channels] of cases) {
      const s = schema(256, 256, channels);
      const mine = direct(s, png);
      expect(mine).toBeDefined();
      expect(Buffer.from(mine!).equals(Buffer.from(await viaSharp(s, png)))).toBe(true);
    }
  });

  it('keeps the high byte of every 16-bit sample, as libvips does', async () => {
    const all = Array.from({ length: 65536 }, (_, v) => v);
    for (const [colorType, values] of [
      [0, all],
      [2, all.flatMap((v) => [v, 65535 - v, (v * 7) & 0xffff])],
    ] as const) {
      const png = writePng({ width: 256, height: 256, depth: 16, colorType, samples: values });
      const s = schema(256, 256, 3);
      const mine = direct(s, png);
      expect(mine).toBeDefined();
      expect(Buffer.from(mine!).equals(Buffer.from(await viaSharp(s, png))), `colour type ${colorType}`).toBe(true);
    }
  });

  it('agrees with sharp on files sharp wrote (adaptive filters, palettes sharp chose)', async () => {
    for (let seed = 1; seed <= 12; seed++) {
      const channels = ((seed % 4) + 1) as 1 | 2 | 3 | 4;
      const pixels = Buffer.from(samples(20 * 20 * channels, 255, seed));
      const palette = seed % 3 === 0;
      let image = sharp(pixels, { raw: { width: 20, height: 20, channels } });
      if (channels <= 2) image = image.toColourspace('b-w');
      const png = await image.png({ palette, compressionLevel: seed % 10 }).toBuffer();
      const gray = [0, 4].includes(readPngHeader(png)!.colorType);
      if (channels <= 2 && !palette) expect(gray, `seed ${seed}: sharp wrote a gray PNG`).toBe(true);
      for (const c of [1, 3] as const) {
        const s = schema(20, 20, c);
        const mine = direct(s, png);
        if (c === 3 || gray) expect(mine, `seed ${seed} channels ${channels}`).toBeDefined();
        if (mine) expect(Buffer.from(mine).equals(Buffer.from(await viaSharp(s, png))), `seed ${seed}`).toBe(true);
      }
    }
  });

  it('leaves to sharp what needs resizing, colour management, orientation, gray conversion or 16-bit flattening', async () => {
    const base = { width: 16, height: 12, depth: 8, colorType: 2, samples: samples(16 * 12 * 3, 255, 99) } as const;
    const declined: [string, ImageInput, Buffer][] = [
      ['another size', schema(8, 6, 3), writePng(base)],
      ['colour to gray', schema(16, 12, 1), writePng(base)],
      ['interlaced', schema(16, 12, 3), writePng({ ...base, interlaced: true })],
      [
        '16-bit gray to gray',
        schema(16, 12, 1),
        writePng({ ...base, depth: 16, colorType: 0, samples: samples(192, 65535, 7) }),
      ],
      [
        '16-bit RGBA',
        schema(16, 12, 3),
        writePng({ ...base, depth: 16, colorType: 6, samples: samples(768, 65535, 8) }),
      ],
      [
        '16-bit RGB + tRNS',
        schema(16, 12, 3),
        writePng({ ...base, depth: 16, samples: samples(576, 65535, 9), trns: [1, 2, 3] }),
      ],
      ['ICC profile', schema(16, 12, 3), writePng({ ...base, extra: [{ type: 'iCCP', data: Buffer.from('x\0\0') }] })],
      ['EXIF orientation', schema(16, 12, 3), writePng({ ...base, extra: [{ type: 'eXIf', data: Buffer.alloc(8) }] })],
      [
        'gamma',
        schema(16, 12, 3),
        writePng({ ...base, extra: [{ type: 'gAMA', data: Buffer.from([0, 0, 0xb1, 0x8f]) }] }),
      ],
    ];
    for (const [name, s, png] of declined) {
      expect(direct(s, png), name).toBeUndefined();
      // decodeImage still answers through sharp (or with sharp's own error for the made-up ICC/EXIF payloads).
      const decoded = await decodeImage(s, png).catch((e: unknown) => e);
      if (decoded instanceof Float32Array) expect(decoded.length).toBe(s.width * s.height * s.channels);
      else expect(decoded, name).toBeInstanceOf(ImageDecodeError);
    }
  });

  it('checks the pixel limit from the header on the in-process path too', async () => {
    const png = writePng({ width: 16, height: 12, depth: 8, colorType: 0, samples: samples(192, 255, 5) });
    const err = await decodeImage(schema(16, 12, 1), png, { maxPixels: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageDecodeError);
    expect((err as ImageDecodeError).tooLarge).toBe(true);
    expect((await decodeImage(schema(16, 12, 1), png, { maxPixels: 192 })).length).toBe(192);
  });

  it('hands corrupt files to sharp, which names the problem', async () => {
    const png = writePng({ width: 16, height: 12, depth: 8, colorType: 2, samples: samples(576, 255, 3) });
    const badCrc = Buffer.from(png);
    badCrc.writeUInt8((badCrc.readUInt8(png.length - 20) ^ 0xff) & 0xff, png.length - 20); // inside IDAT
    for (const bytes of [png.subarray(0, png.length - 30), badCrc]) {
      const err = await decodeImage(schema(16, 12, 3), bytes).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ImageDecodeError);
      expect((err as Error).message).toMatch(/^cannot decode PNG image: /);
    }
  });
});
