/**
 * Disk full while a model version is written, on a real 1 MiB tmpfs (the kernel's own ENOSPC):
 * the save fails with a ModelFileError that says so, the previous version stays listed and
 * loadable, no half-written folder is left behind, and a save fits again once space is freed.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend, loadLayersModel, ModelFileError, ModelRepository, saveLayersModel } from '@tuneserve/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canMountTmpfs, mountSmallDisk, type SmallDisk } from '../../../test-support/tmpfs.js';
import { predictValues, probe, smallModel } from './helpers.js';

/** About 1.2 MB of float32 weights: more than the whole disk. */
function bigModel(): tf.LayersModel {
  return tf.sequential({ layers: [tf.layers.dense({ inputShape: [6], units: 50_000 })] });
}

describe.skipIf(!canMountTmpfs())('disk full while saving a model (1 MiB tmpfs)', () => {
  let disk: SmallDisk;
  beforeAll(async () => {
    await initBackend({ log: false });
    disk = mountSmallDisk(1024 * 1024);
  });
  afterAll(() => disk?.unmount());

  it('ModelRepository.saveVersion: clear error, previous version intact, space reclaimed', async () => {
    const repo = new ModelRepository(join(disk.dir, 'models', 'mnist'));
    const meta = { name: 'mnist', inputShape: [6], labels: ['a', 'b', 'c'] };
    const first = smallModel(1);
    expect((await repo.saveVersion(first, meta)).version).toBe(1);

    const big = bigModel();
    const err = await repo.saveVersion(big, meta).catch((e: unknown) => e);
    big.dispose();
    expect(err).toBeInstanceOf(ModelFileError);
    expect((err as Error).message).toBe(
      `${join(repo.root, '2')}: cannot write the model: no space left on the device (ENOSPC); the files already there were not changed`,
    );
    expect(((err as Error).cause as NodeJS.ErrnoException).code).toBe('ENOSPC');

    expect(await repo.listVersions()).toEqual([1]);
    expect(await readdir(repo.root)).toEqual(['1']); // the partial temporary folder was removed
    expect(await repo.readMetadata(1)).toMatchObject({ name: 'mnist', version: 1 });
    const loaded = await loadLayersModel(repo.versionDir(1));
    expect(await predictValues(loaded, probe())).toEqual(await predictValues(first, probe()));

    // The space the failed write took is free again: the next model fits and becomes version 2.
    expect((await repo.saveVersion(smallModel(2), meta)).version).toBe(2);
    expect(await repo.listVersions()).toEqual([1, 2]);
  });

  it('saveLayersModel over an existing folder: the old model stays readable', async () => {
    const target = join(disk.dir, 'single');
    const first = smallModel(3);
    await saveLayersModel(first, target);
    const big = bigModel();
    await expect(saveLayersModel(big, target)).rejects.toThrow(/no space left on the device \(ENOSPC\)/);
    big.dispose();
    expect(await predictValues(await loadLayersModel(target), probe())).toEqual(await predictValues(first, probe()));
    expect((await readdir(disk.dir)).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });
});
