import type { ImageInput } from '@tuneserve/client';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeImage, ImageDecodeError } from '../src/index.js';
import { colourImage, grayImage } from './fixtures.js';

const rgb: ImageInput = { kind: 'image', width: 8, height: 6, channels: 3, fit: 'fill', layout: 'hwc' };
const gray: ImageInput = { ...rgb, channels: 1 };

describe('decodeImage (the transform shared by training and serving)', () => {
  it('decodes PNG, JPEG and WebP to height x width x channels values in [0, 1]', async () => {
    for (const format of ['png', 'jpeg', 'webp'] as const) {
      const bytes = await colourImage({ r: 200, g: 20, b: 20 }, 40, 30, 1, format);
      const x = await decodeImage(rgb, bytes);
      expect(x.length).toBe(8 * 6 * 3);
      expect(x[0]!).toBeGreaterThan(0.75);
      expect(x[2]!).toBeLessThan(0.3);
      expect(Math.max(...x)).toBeLessThanOrEqual(1);
    }
  });

  it('converts colour to gray and gray to RGB, flattens alpha on white, and inverts when asked', async () => {
    const g = await decodeImage(gray, await grayImage(10, 10, 51));
    expect(g.length).toBe(8 * 6);
    expect(g[0]).toBeCloseTo(0.2, 5);
    const asRgb = await decodeImage(rgb, await grayImage(10, 10, 51));
    expect(Array.from(asRgb.subarray(0, 3)).map((v) => v.toFixed(3))).toEqual(['0.200', '0.200', '0.200']);
    const transparent = await sharp({
      create: { width: 4, height: 4, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } },
    })
      .png()
      .toBuffer();
    expect((await decodeImage(gray, transparent))[0]).toBe(1);
    expect((await decodeImage({ ...gray, invert: true }, transparent))[0]).toBe(0);
  });

  it('rejects what is not a PNG, JPEG or WebP (an SVG, text) with a typed error', async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>');
    await expect(decodeImage(rgb, svg)).rejects.toThrow(ImageDecodeError);
    await expect(decodeImage(rgb, svg)).rejects.toThrow('not a PNG, JPEG or WebP image');
    await expect(decodeImage(rgb, new Uint8Array(0))).rejects.toThrow(ImageDecodeError);
  });

  it('rejects truncated files in one line', async () => {
    const png = await colourImage({ r: 1, g: 2, b: 3 }, 64, 64, 2);
    const err = await decodeImage(rgb, png.subarray(0, png.length - 40)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageDecodeError);
    expect((err as Error).message).toMatch(/^cannot decode PNG image: /);
    expect((err as Error).message).not.toContain('\n');
    const jpeg = await colourImage({ r: 1, g: 2, b: 3 }, 64, 64, 2, 'jpeg');
    await expect(decodeImage(rgb, jpeg.subarray(0, jpeg.length / 2))).rejects.toThrow(/^cannot decode JPEG image/);
  });

  it('refuses images over the pixel limit from the header, before decoding (decompression bombs)', async () => {
    // 6000 x 6000 of one colour compresses to a few kilobytes but would decode to 108 MB.
    const bomb = await sharp({ create: { width: 6000, height: 6000, channels: 3, background: '#000' } })
      .png()
      .toBuffer();
    expect(bomb.length).toBeLessThan(1_000_000);
    const err = await decodeImage(rgb, bomb, { maxPixels: 4_000_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageDecodeError);
    expect((err as ImageDecodeError).tooLarge).toBe(true);
    expect((err as Error).message).toBe('image is larger than 4000000 pixels');
    await expect(decodeImage(rgb, await grayImage(10, 10, 0), { maxPixels: 99 })).rejects.toThrow(
      /larger than 99 pixels/,
    );
  });
});
