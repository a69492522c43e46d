/** Data the tests generate: CSV tables and image folders with a learnable signal. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { seededRandom } from '@tuneserve/client';
import sharp from 'sharp';

/** Writes `lines` joined with newlines (a trailing newline included) and returns the path. */
export async function writeLines(dir: string, name: string, lines: string[]): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, `${lines.join('\n')}\n`);
  return file;
}

/**
 * A flower-like table: two numeric measurements, a categorical colour, and a species that depends
 * on them. `n` rows, deterministic.
 */
export function flowerRows(n: number, seed = 1): string[] {
  const random = seededRandom(seed);
  const species = ['setosa', 'versicolor', 'virginica'];
  const colours = ['blue', 'red', 'white'];
  const lines = ['petal_length,petal_width,colour,species'];
  for (let i = 0; i < n; i++) {
    const s = i % 3;
    const length = (1.5 + 2 * s + random()).toFixed(2);
    const width = (0.2 + 0.8 * s + random() * 0.3).toFixed(2);
    lines.push(`${length},${width},${colours[(s + (random() < 0.2 ? 1 : 0)) % 3]},${species[s]}`);
  }
  return lines;
}

/** y = 3a - 2b + noise, with a categorical 'site' that shifts it. */
export function regressionRows(n: number, seed = 2): string[] {
  const random = seededRandom(seed);
  const lines = ['a,b,site,y'];
  for (let i = 0; i < n; i++) {
    const a = random() * 10;
    const b = random() * 5;
    const site = ['north', 'south'][i % 2]!;
    const y = 3 * a - 2 * b + (site === 'north' ? 5 : 0) + random();
    lines.push(`${a.toFixed(3)},${b.toFixed(3)},${site},${y.toFixed(3)}`);
  }
  return lines;
}

export const CLASS_COLOURS: Record<string, { r: number; g: number; b: number }> = {
  red: { r: 220, g: 30, b: 30 },
  green: { r: 30, g: 200, b: 40 },
  blue: { r: 30, g: 40, b: 210 },
};

/** A PNG of one colour with a random lighter square, `width` x `height`. */
export async function colourImage(
  colour: { r: number; g: number; b: number },
  width: number,
  height: number,
  seed: number,
  format: 'png' | 'jpeg' | 'webp' = 'png',
): Promise<Buffer> {
  const random = seededRandom(seed);
  const pixels = Buffer.alloc(width * height * 3);
  const sx = Math.floor(random() * width * 0.5);
  const sy = Math.floor(random() * height * 0.5);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inSquare = x >= sx && x < sx + width / 3 && y >= sy && y < sy + height / 3;
      const o = (y * width + x) * 3;
      const lift = inSquare ? 30 : Math.floor(random() * 20);
      pixels[o] = Math.min(255, colour.r + lift);
      pixels[o + 1] = Math.min(255, colour.g + lift);
      pixels[o + 2] = Math.min(255, colour.b + lift);
    }
  }
  const img = sharp(pixels, { raw: { width, height, channels: 3 } });
  return format === 'png' ? img.png().toBuffer() : format === 'jpeg' ? img.jpeg().toBuffer() : img.webp().toBuffer();
}

/** A single-channel (grayscale) PNG. */
export async function grayImage(width: number, height: number, level: number): Promise<Buffer> {
  return sharp(Buffer.alloc(width * height, level), { raw: { width, height, channels: 1 } })
    .toColourspace('b-w')
    .png()
    .toBuffer();
}

/** `<dir>/<class>/<i>.png` for the three colour classes, `perClass` images each; mixed formats and sizes when asked. */
export async function colourFolder(
  dir: string,
  perClass: number,
  o: { sizes?: boolean; formats?: boolean } = {},
): Promise<string> {
  let seed = 0;
  for (const [name, colour] of Object.entries(CLASS_COLOURS)) {
    await mkdir(join(dir, name), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const format = o.formats ? (['png', 'jpeg', 'webp'] as const)[i % 3]! : 'png';
      const w = o.sizes ? 40 + (i % 4) * 8 : 24;
      const h = o.sizes ? 30 + (i % 3) * 10 : 24;
      const ext = format === 'jpeg' ? 'jpg' : format;
      await writeFile(join(dir, name, `${i}.${ext}`), await colourImage(colour, w, h, seed++, format));
    }
  }
  return dir;
}
