/**
 * The data-shaping flags reach the loader: `--categorical` reads a numeric-looking column as categories and
 * `--channels` settles an image folder that mixes gray and colour (both named by the loader's error messages).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDataOptions, type DataFlags, dataSpecFrom, loadData } from '../src/adapters/data.js';

let dir: string;

function parse(argv: string[]): DataFlags {
  const cmd = addDataOptions(new Command('tune').exitOverride());
  cmd.parse(argv, { from: 'user' });
  return cmd.opts<DataFlags>();
}

async function png(file: string, channels: 1 | 3, value: number): Promise<void> {
  // Colour images get unequal channels: a gray picture stored as RGB counts as gray.
  const pixel = channels === 1 ? [value] : [value, 255 - value, 128];
  const bytes = Buffer.from(Array.from({ length: 8 * 8 }, () => pixel).flat());
  const image = sharp(bytes, { raw: { width: 8, height: 8, channels } });
  // sharp writes RGB PNGs unless told the colour space is black-and-white.
  await (channels === 1 ? image.toColourspace('b-w') : image).png().toFile(file);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tuneserve-data-flags-'));
  const rows = ['zip,size,label'];
  for (let i = 0; i < 40; i++) rows.push(`${[10115, 20095, 80331][i % 3]},${i},${i % 2 ? 'yes' : 'no'}`);
  await writeFile(join(dir, 'shops.csv'), `${rows.join('\n')}\n`);
  for (const [cls, value] of [
    ['dark', 20],
    ['light', 230],
  ] as const) {
    await mkdir(join(dir, 'photos', cls), { recursive: true });
    for (let i = 0; i < 6; i++) await png(join(dir, 'photos', cls, `${i}.png`), i === 0 ? 1 : 3, value);
  }
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('data flags', () => {
  it('--categorical reads a numeric-looking column as categories', async () => {
    const plain = await loadData(dataSpecFrom(parse(['--data', join(dir, 'shops.csv')])) ?? { path: '' });
    const zip = (d: typeof plain) => (d.input.kind === 'tabular' ? d.input.features.find((f) => f.name === 'zip') : 0);
    expect(zip(plain)).toMatchObject({ type: 'number' });
    const flags = parse(['--data', join(dir, 'shops.csv'), '--categorical', 'zip']);
    const data = await loadData(dataSpecFrom(flags) ?? { path: '' });
    expect(zip(data)).toMatchObject({ type: 'category', categories: ['10115', '20095', '80331'] });
  });

  it('--channels settles a folder that mixes gray and colour images', async () => {
    const path = join(dir, 'photos');
    await expect(loadData(dataSpecFrom(parse(['--data', path])) ?? { path })).rejects.toThrow(/--channels/);
    for (const channels of [1, 3] as const) {
      const data = await loadData(dataSpecFrom(parse(['--data', path, '--channels', String(channels)])) ?? { path });
      expect(data.input).toMatchObject({ kind: 'image', channels });
    }
    expect(() => parse(['--data', path, '--channels', '2'])).toThrow(/--channels must be 1 \(grayscale\) or 3/);
  });
});
