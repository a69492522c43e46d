import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError, encodeIdx, IdxFormatError, readIdx } from '../src/index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'idx-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const images = encodeIdx('uint8', [2, 2, 3], [0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255]);

async function write(name: string, bytes: Uint8Array): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, bytes);
  return file;
}

describe('readIdx', () => {
  it('reads a good uint8 image file', async () => {
    const idx = await readIdx(await write('good-idx3-ubyte', images));
    expect(idx.magic).toBe(2051);
    expect(idx.dtype).toBe('uint8');
    expect(idx.shape).toEqual([2, 2, 3]);
    expect(Array.from(idx.data)).toEqual([0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255]);
  });

  it('reads labels (magic 2049) and big-endian wider types', async () => {
    const labels = await readIdx(await write('labels', encodeIdx('uint8', [3], [7, 0, 9])));
    expect(labels.magic).toBe(2049);
    expect(Array.from(labels.data)).toEqual([7, 0, 9]);
    const floats = await readIdx(await write('floats', encodeIdx('float32', [2], [1.5, -2.25])));
    expect(Array.from(floats.data)).toEqual([1.5, -2.25]);
    const ints = await readIdx(await write('ints', encodeIdx('int32', [2], [-70000, 70000])));
    expect(Array.from(ints.data)).toEqual([-70000, 70000]);
  });

  it('reads a gzipped file the same as the plain one', async () => {
    const idx = await readIdx(await write('good-idx3-ubyte.gz', gzipSync(images)));
    expect(idx.shape).toEqual([2, 2, 3]);
    expect(Array.from(idx.data)).toEqual(Array.from((await readIdx(join(dir, 'good-idx3-ubyte'))).data));
  });

  it('rejects a truncated file, naming the file and the sizes', async () => {
    const file = await write('short-idx3-ubyte', images.subarray(0, images.length - 5));
    await expect(readIdx(file)).rejects.toThrow(IdxFormatError);
    await expect(readIdx(file)).rejects.toThrow(DataError);
    await expect(readIdx(file)).rejects.toThrow(
      /short-idx3-ubyte: truncated: header says shape \[2, 2, 3\] \(28 bytes\), file has 23/,
    );
  });

  it('rejects a truncated header', async () => {
    const file = await write('short-header', images.subarray(0, 9));
    await expect(readIdx(file)).rejects.toThrow(/short-header: truncated header/);
  });

  it('rejects a wrong magic number', async () => {
    const bad = Uint8Array.from(images);
    bad[0] = 0x12;
    bad[2] = 0x42;
    const file = await write('bad-magic', bad);
    await expect(readIdx(file)).rejects.toThrow(/bad-magic: not an IDX file \(magic number \d+/);
  });

  it('rejects trailing bytes, corrupt gzip and a missing file', async () => {
    const trailing = new Uint8Array(images.length + 3);
    trailing.set(images);
    await expect(readIdx(await write('trailing', trailing))).rejects.toThrow(/3 unexpected trailing bytes/);
    const gz = gzipSync(images);
    await expect(readIdx(await write('cut.gz', gz.subarray(0, gz.length - 10)))).rejects.toThrow(
      /cut.gz: corrupt gzip/,
    );
    await expect(readIdx(join(dir, 'nope'))).rejects.toThrow(/nope: file not found/);
  });
});
