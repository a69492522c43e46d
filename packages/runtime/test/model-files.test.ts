import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import {
  copyModel,
  initBackend,
  loadLayersModel,
  ModelFileError,
  ModelRepository,
  publishedDir,
  saveLayersModel,
  versionOf,
} from '@tuneserve/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveLayersModel as saveWithHooks } from '../src/model/files.js';
import { predictValues, probe, smallModel, tempDir } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  await initBackend({ log: false });
  ({ dir, cleanup } = await tempDir());
});
afterAll(() => cleanup());

describe('saveLayersModel / loadLayersModel', () => {
  it('round-trips to identical predictions in the standard layout', async () => {
    const model = smallModel();
    const target = join(dir, 'roundtrip');
    await saveLayersModel(model, target, { 'notes.txt': 'hello' });
    expect((await readdir(target)).sort()).toEqual(['model.json', 'notes.txt', 'weights.bin']);
    const json = JSON.parse(await readFile(join(target, 'model.json'), 'utf8'));
    expect(json.format).toBe('layers-model');
    expect(json.weightsManifest[0].paths).toEqual(['weights.bin']);
    const loaded = await loadLayersModel(target);
    expect(await predictValues(loaded, probe())).toEqual(await predictValues(model, probe()));
    // model.json path and file:// URL name the same model
    const viaUrl = await loadLayersModel(pathToFileURL(join(target, 'model.json')).href);
    expect(await predictValues(viaUrl, probe())).toEqual(await predictValues(model, probe()));
  });

  it('leaves the previous model readable when a save is interrupted before the rename', async () => {
    const target = join(dir, 'interrupted');
    const first = smallModel(1);
    await saveLayersModel(first, target);
    const crash = new Error('simulated crash before rename');
    await expect(
      saveWithHooks(
        smallModel(7),
        target,
        {},
        {
          beforeCommit: async (tmp) => {
            // the new files are complete and synced at this point, but nobody can see them at `target`
            expect((await stat(join(tmp, 'weights.bin'))).size).toBeGreaterThan(0);
            throw crash;
          },
        },
      ),
    ).rejects.toBe(crash);
    const loaded = await loadLayersModel(target);
    expect(await predictValues(loaded, probe())).toEqual(await predictValues(first, probe()));
    expect((await readdir(dir)).filter((n) => n.includes('.tmp-'))).toEqual([]);
    // a completed save replaces it
    const second = smallModel(7);
    await saveLayersModel(second, target);
    expect(await predictValues(await loadLayersModel(target), probe())).toEqual(await predictValues(second, probe()));
  });

  it('reads the previous model when a save was killed between its two renames; the next save clears the leftovers', async () => {
    const target = join(dir, 'killed');
    const first = smallModel(1);
    await saveLayersModel(first, target);
    // What a kill after "move the old folder aside" and before "rename the new one in" leaves, by a writer whose pid
    // cannot exist (pids stop at 2^22): the old folder aside and the new one's temporary folder.
    const aside = join(dir, '.killed.tmp-4194305-ab.old');
    await rename(target, aside);
    await mkdir(join(dir, '.killed.tmp-4194305-cd'));
    // A temporary folder of a writer that still runs (our parent) is left alone.
    const live = join(dir, `.killed.tmp-${process.ppid}-ef`);
    await mkdir(live);
    expect(publishedDir(target)).toBe(aside);
    expect(publishedDir(target, ['state.json'])).toBeUndefined();
    expect(await predictValues(await loadLayersModel(target), probe())).toEqual(await predictValues(first, probe()));
    const second = smallModel(7);
    await saveLayersModel(second, target);
    expect(publishedDir(target)).toBe(target);
    expect(await predictValues(await loadLayersModel(target), probe())).toEqual(await predictValues(second, probe()));
    expect((await readdir(dir)).filter((n) => n.startsWith('.killed.'))).toEqual([`.killed.tmp-${process.ppid}-ef`]);
    await rm(live, { recursive: true });
  });

  it('reports corrupt model.json, missing and truncated weights as ModelFileError naming the file', async () => {
    const target = join(dir, 'corrupt');
    await saveLayersModel(smallModel(), target);
    const weights = await readFile(join(target, 'weights.bin'));

    await writeFile(join(target, 'weights.bin'), weights.subarray(0, weights.length - 8));
    await expect(loadLayersModel(target)).rejects.toThrow(/weights\.bin: weight data is \d+ bytes but .* declares/);

    await writeFile(join(target, 'weights.bin'), weights);
    const json = await readFile(join(target, 'model.json'), 'utf8');
    await writeFile(join(target, 'model.json'), json.slice(0, 40));
    const err = await loadLayersModel(target).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelFileError);
    expect((err as ModelFileError).message).toMatch(/model\.json: not valid JSON/);

    await writeFile(join(target, 'model.json'), JSON.stringify({ hello: 1 }));
    await expect(loadLayersModel(target)).rejects.toThrow(/missing "modelTopology"/);

    await writeFile(join(target, 'model.json'), json);
    const { rm } = await import('node:fs/promises');
    await rm(join(target, 'weights.bin'));
    const missing = await loadLayersModel(target).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ModelFileError);
    expect((missing as ModelFileError).message).toMatch(/weights\.bin: file not found/);

    await expect(loadLayersModel(join(dir, 'does-not-exist'))).rejects.toThrow(/model\.json: file not found/);
  });

  it('loads a tensorflowjs_converter layout: keras model_config, several groups, sharded weights', async () => {
    const model = smallModel(3);
    const target = join(dir, 'saved-for-converter');
    await saveLayersModel(model, target);
    const ours = JSON.parse(await readFile(join(target, 'model.json'), 'utf8'));
    const bytes = await readFile(join(target, 'weights.bin'));
    const { keras_version, backend, ...modelConfig } = ours.modelTopology;
    const specs = ours.weightsManifest[0].weights as { name: string; shape: number[] }[];
    // Group 1 = first layer, split over two shards; group 2 = second layer, one shard.
    const sizeOf = (s: { shape: number[] }) => s.shape.reduce((a, b) => a * b, 1) * 4;
    const group1Bytes = sizeOf(specs[0]!) + sizeOf(specs[1]!);
    const conv = join(dir, 'converted');
    await mkdir(conv);
    await writeFile(join(conv, 'group1-shard1of2.bin'), bytes.subarray(0, 10));
    await writeFile(join(conv, 'group1-shard2of2.bin'), bytes.subarray(10, group1Bytes));
    await writeFile(join(conv, 'group2-shard1of1.bin'), bytes.subarray(group1Bytes));
    await writeFile(
      join(conv, 'model.json'),
      JSON.stringify({
        format: 'layers-model',
        generatedBy: 'keras v2.15.0',
        convertedBy: 'TensorFlow.js Converter v4.22.0',
        modelTopology: {
          keras_version: keras_version ?? '2.15.0',
          backend: backend ?? 'tensorflow',
          model_config: modelConfig,
        },
        weightsManifest: [
          { paths: ['group1-shard1of2.bin', 'group1-shard2of2.bin'], weights: specs.slice(0, 2) },
          { paths: ['group2-shard1of1.bin'], weights: specs.slice(2) },
        ],
      }),
    );
    const loaded = await loadLayersModel(conv);
    expect(await predictValues(loaded, probe())).toEqual(await predictValues(model, probe()));
  });

  describe('over real HTTP on 127.0.0.1', () => {
    let server: Server;
    let base: string;
    beforeAll(async () => {
      server = createServer((req, res) => {
        const file = join(dir, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
        stat(file).then(
          (s) => {
            if (!s.isFile()) throw new Error('not a file');
            res.writeHead(200, { 'content-length': s.size });
            createReadStream(file).pipe(res);
          },
          () => {
            res.writeHead(404).end('not found');
          },
        );
      });
      await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((ok) => server.close(() => ok())));

    it('loads a directory URL and a model.json URL', async () => {
      const model = smallModel(5);
      await saveLayersModel(model, join(dir, 'served'));
      const expected = await predictValues(model, probe());
      expect(await predictValues(await loadLayersModel(`${base}/served`), probe())).toEqual(expected);
      expect(await predictValues(await loadLayersModel(`${base}/served/model.json`), probe())).toEqual(expected);
      // stock TF.js (what a browser runs) reads the same files over HTTP
      expect(await predictValues(await tf.loadLayersModel(`${base}/served/model.json`), probe())).toEqual(expected);
    });

    it('names the URL on HTTP errors', async () => {
      const err = await loadLayersModel(`${base}/nothing-here`).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModelFileError);
      expect((err as Error).message).toMatch(/\/nothing-here\/model\.json: HTTP 404/);
    });
  });
});

describe('ModelRepository', () => {
  it('saves numbered versions with metadata and lists them, ignoring stray directories', async () => {
    const repo = new ModelRepository(join(dir, 'models', 'mnist'));
    expect(await repo.listVersions()).toEqual([]);
    expect(await repo.latestVersion()).toBeUndefined();
    const meta = { name: 'mnist', inputShape: [6], labels: ['a', 'b', 'c'], backend: tf.getBackend() };
    const v1 = await repo.saveVersion(smallModel(1), meta);
    const v2 = await repo.saveVersion(
      smallModel(2),
      { ...meta, hyperparameters: { units: 5 } },
      { 'plot.svg': '<svg/>' },
    );
    expect([v1.version, v2.version]).toEqual([1, 2]);
    await mkdir(join(repo.root, '007x'));
    await mkdir(join(repo.root, '9')); // an empty directory is not a published version
    // Names that are not a plain positive safe integer are no version either (the server scans with this rule).
    for (const name of ['0', '03', '9007199254740993', '+4', '5.0'])
      await copyModel(repo.versionDir(1), join(repo.root, name));
    expect(await repo.listVersions()).toEqual([1, 2]);
    expect([versionOf('7'), versionOf('07'), versionOf('0'), versionOf('9007199254740991')]).toEqual([
      7,
      undefined,
      undefined,
      9007199254740991,
    ]);
    expect(await repo.latestVersion()).toBe(2);
    const m2 = await repo.readMetadata(2);
    expect(m2).toMatchObject({ name: 'mnist', version: 2, hyperparameters: { units: 5 }, labels: ['a', 'b', 'c'] });
    expect(typeof m2?.tuneserveVersion).toBe('string');
    expect(Number.isNaN(Date.parse(m2?.createdAt ?? ''))).toBe(false);
    expect(await repo.readMetadata(3)).toBeUndefined();
    const loaded = await loadLayersModel(repo.versionDir(2));
    expect(await predictValues(loaded, probe())).toEqual(await predictValues(smallModel(2), probe()));
    await writeFile(join(repo.versionDir(1), 'metadata.json'), '{oops');
    await expect(repo.readMetadata(1)).rejects.toThrow(ModelFileError);
    expect(() => repo.versionDir(0)).toThrow(RangeError);
  });

  it('gives concurrent savers distinct versions', async () => {
    const repo = new ModelRepository(join(dir, 'models', 'race'));
    const meta = { name: 'race', inputShape: [6], labels: ['a', 'b', 'c'] };
    const results = await Promise.all([1, 2, 3, 4].map((s) => repo.saveVersion(smallModel(s), meta)));
    expect(results.map((r) => r.version).sort()).toEqual([1, 2, 3, 4]);
    for (const r of results) expect((await repo.readMetadata(r.version))?.version).toBe(r.version);
  });
});
