import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError, loadDataset, loaders } from '../src/index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'data-registry-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('loadDataset picks the loader by what the path is', () => {
  it('lists one loader per format', () => {
    expect(loaders.map((l) => l.name)).toEqual(['idx', 'csv', 'images']);
  });

  it('refuses what no loader reads, naming the path', async () => {
    const flat = join(dir, 'flat');
    await mkdir(flat);
    await writeFile(join(flat, 'a.png'), 'x');
    for (const spec of [flat, join(dir, 'nothing-here'), join(dir, 'table.xlsx')]) {
      const err = await loadDataset(spec).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DataError);
      expect((err as Error).message).toBe(
        `${spec}: not a data set tuneserve can read: expected 'mnist', a folder of IDX files, a .csv/.tsv file, or a folder of <class>/ image folders`,
      );
    }
  });
});
