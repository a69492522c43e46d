/**
 * model.json and its shards as untrusted input, on real files and over real HTTP on 127.0.0.1:
 * weight paths stay inside the model folder (no `..`, absolute path, other host or symlink out),
 * sizes are capped before and while reading, every dtype's byte count is checked, and a redirect
 * is followed only on the model's own host.
 */
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { copyModel, initBackend, loadLayersModel, ModelFileError, saveLayersModel } from '@tuneserve/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { predictValues, probe, smallModel, tempDir } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
/** model.json and weights.bin of smallModel(), saved once. */
let modelJson: { modelTopology: unknown; weightsManifest: { paths: string[]; weights: WeightSpec[] }[] };
let weights: Buffer;

interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; scale?: number; min?: number };
}

beforeAll(async () => {
  await initBackend({ log: false });
  ({ dir, cleanup } = await tempDir());
  await saveLayersModel(smallModel(), join(dir, 'good'));
  modelJson = JSON.parse(await readFile(join(dir, 'good', 'model.json'), 'utf8'));
  weights = await readFile(join(dir, 'good', 'weights.bin'));
});
afterAll(() => cleanup());

/** Writes a model folder with the given manifest and shard files; returns its path. */
async function folder(
  name: string,
  manifest: { paths: string[]; weights: WeightSpec[] }[],
  files: Record<string, Uint8Array>,
): Promise<string> {
  const target = join(dir, name);
  await mkdir(target, { recursive: true });
  await writeFile(join(target, 'model.json'), JSON.stringify({ ...modelJson, weightsManifest: manifest }));
  for (const [file, bytes] of Object.entries(files)) await writeFile(join(target, file), bytes);
  return target;
}

const specs = (): WeightSpec[] => structuredClone(modelJson.weightsManifest[0]?.weights ?? []);
const failure = async (load: Promise<unknown>): Promise<ModelFileError> => {
  const err = await load.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ModelFileError);
  return err as ModelFileError;
};

describe('weight paths stay inside the model folder', () => {
  it.each([
    ['../good/weights.bin', /must stay inside the model folder/],
    ['sub/../../good/weights.bin', /must stay inside the model folder/],
    ['/etc/hostname', /must be relative to the model folder/],
    ['file:///etc/hostname', /must be relative to the model folder/],
    ['http://127.0.0.1:9/weights.bin', /must be relative to the model folder/],
    ['//127.0.0.1/weights.bin', /must be relative to the model folder/],
    ['..\\good\\weights.bin', /backslash/],
    ['', /non-empty string/],
  ])('refuses %j', async (path, message) => {
    const target = await folder(
      `path-${Math.random().toString(36).slice(2)}`,
      [{ paths: [path], weights: specs() }],
      {},
    );
    const err = await failure(loadLayersModel(target));
    expect(err.message).toMatch(message);
    expect(err.message).toContain(join(target, 'model.json'));
  });

  it('refuses a symbolic link that leads out of the folder, accepts one that stays inside', async () => {
    const out = await folder('symlink-out', [{ paths: ['weights.bin'], weights: specs() }], {});
    await symlink(join(dir, 'good', 'weights.bin'), join(out, 'weights.bin'));
    expect((await failure(loadLayersModel(out))).message).toMatch(/outside the model folder/);

    const within = await folder('symlink-in', [{ paths: ['weights.bin'], weights: specs() }], {
      'real.bin': weights,
    });
    await symlink('real.bin', join(within, 'weights.bin'));
    const loaded = await loadLayersModel(within);
    expect(await predictValues(loaded, probe())).toEqual(await predictValues(smallModel(), probe()));
  });

  it('loads weights in a subfolder of the model folder', async () => {
    const target = await folder('subfolder', [{ paths: ['shards/w.bin'], weights: specs() }], {});
    await mkdir(join(target, 'shards'));
    await writeFile(join(target, 'shards', 'w.bin'), weights);
    expect(await predictValues(await loadLayersModel(target), probe())).toEqual(
      await predictValues(smallModel(), probe()),
    );
  });
});

describe('dtypes and byte counts', () => {
  it('loads uint8-quantized weights and checks their byte count at one byte each', async () => {
    // The first kernel stored as uint8 with scale/min, as tensorflowjs_converter --quantize_uint8 does.
    const all = specs();
    const [first, ...rest] = all;
    if (!first) throw new Error('no weights');
    const count = first.shape.reduce((a, b) => a * b, 1);
    const floats = new Float32Array(weights.buffer.slice(weights.byteOffset, weights.byteOffset + count * 4));
    const min = Math.min(...floats);
    const scale = (Math.max(...floats) - min) / 255;
    const quantized = Uint8Array.from(floats, (v) => Math.round((v - min) / scale));
    const data = Buffer.concat([quantized, weights.subarray(count * 4)]);
    const q = { ...first, quantization: { dtype: 'uint8', scale, min } };
    const ok = await folder('uint8', [{ paths: ['w.bin'], weights: [q, ...rest] }], { 'w.bin': data });
    const loaded = await loadLayersModel(ok);
    const exact = await predictValues(smallModel(), probe());
    const approx = await predictValues(loaded, probe());
    for (const [i, v] of exact.entries()) expect(approx[i]).toBeCloseTo(v, 1);

    // The same manifest with the unquantized (4 bytes per value) data is a mismatch.
    const wrong = await folder('uint8-wrong', [{ paths: ['w.bin'], weights: [q, ...rest] }], { 'w.bin': weights });
    expect((await failure(loadLayersModel(wrong))).message).toMatch(
      new RegExp(`w\\.bin: more than ${data.length} bytes \\(what .* declares for this weight group\\)`),
    );
  });

  it.each([
    ['int32', 4],
    ['bool', 1],
    ['complex64', 8],
    ['float16 quantized', 2],
    ['uint16 quantized', 2],
  ])('counts %s weights at %i bytes per element', async (kind, per) => {
    const spec: WeightSpec = kind.endsWith('quantized')
      ? {
          name: 'x',
          shape: [3, 2],
          dtype: 'float32',
          quantization: { dtype: kind.split(' ')[0] ?? '', scale: 1, min: 0 },
        }
      : { name: 'x', shape: [3, 2], dtype: kind };
    const short = await folder(`short-${kind}`, [{ paths: ['w.bin'], weights: [spec] }], {
      'w.bin': new Uint8Array(6 * per - 1),
    });
    expect((await failure(loadLayersModel(short))).message).toMatch(
      new RegExp(`weight data is ${6 * per - 1} bytes but .* declares ${6 * per} bytes`),
    );
    // With the right size the byte check passes and the model builder reports the stray weight instead.
    const exact = await folder(`exact-${kind}`, [{ paths: ['w.bin'], weights: [spec] }], {
      'w.bin': new Uint8Array(6 * per),
    });
    expect((await failure(loadLayersModel(exact))).message).toMatch(/cannot build the model/);
  });

  it('walks length-prefixed string weights and refuses truncated ones', async () => {
    const strings = ['ab', 'cde'].map((s) => {
      const b = Buffer.alloc(4 + s.length);
      b.writeUInt32LE(s.length, 0);
      b.write(s, 4);
      return b;
    });
    const spec: WeightSpec = { name: 'vocab', shape: [2], dtype: 'string' };
    const full = Buffer.concat(strings);
    const truncated = await folder('strings-short', [{ paths: ['w.bin'], weights: [spec] }], {
      'w.bin': full.subarray(0, full.length - 1),
    });
    expect((await failure(loadLayersModel(truncated))).message).toMatch(/weight data is 12 bytes but .* declares/);
    const extra = await folder('strings-long', [{ paths: ['w.bin'], weights: [spec] }], {
      'w.bin': Buffer.concat([full, Buffer.from('x')]),
    });
    expect((await failure(loadLayersModel(extra))).message).toMatch(/weight data is 14 bytes but .* declares 13 bytes/);
  });

  it.each([
    [{ name: 'x', shape: [2], dtype: 'float64' }, /unsupported dtype "float64"/],
    [{ name: 'x', shape: [2], dtype: 'bool', quantization: { dtype: 'uint8' } }, /dtype "bool" cannot be quantized/],
    [{ name: 'x', shape: [2], dtype: 'float32', quantization: { dtype: 'int8' } }, /unsupported quantization dtype/],
    [{ name: 'x', shape: [-1, 2], dtype: 'float32' }, /non-negative integers/],
    [{ name: 'x', shape: [2.5], dtype: 'float32' }, /non-negative integers/],
    [{ shape: [2], dtype: 'float32' }, /needs a "name"/],
  ])('refuses the manifest entry %j', async (spec, message) => {
    const target = await folder(
      `spec-${Math.random().toString(36).slice(2)}`,
      [{ paths: ['w.bin'], weights: [spec as WeightSpec] }],
      { 'w.bin': new Uint8Array(8) },
    );
    expect((await failure(loadLayersModel(target))).message).toMatch(message);
  });
});

describe('over real HTTP on 127.0.0.1', () => {
  let main: Server;
  let other: Server;
  let base: string;
  let otherBase: string;
  const seen: string[] = [];
  const otherSeen: string[] = [];

  const listen = async (server: Server): Promise<string> => {
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  const json = (manifest: unknown) => JSON.stringify({ ...modelJson, weightsManifest: manifest });

  beforeAll(async () => {
    other = createServer((req, res) => {
      otherSeen.push(req.url ?? '');
      res.writeHead(200).end(req.url?.endsWith('.json') ? json(modelJson.weightsManifest) : weights);
    });
    otherBase = await listen(other);
    const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {
      '/m/model.json': (_q, r) => r.writeHead(200).end(json(modelJson.weightsManifest)),
      '/m/weights.bin': (_q, r) => r.writeHead(200, { 'content-length': weights.length }).end(weights),
      '/secret.bin': (_q, r) => r.writeHead(200).end(weights),
      '/moved/model.json': (_q, r) => r.writeHead(302, { location: '/m/model.json' }).end(),
      '/moved/weights.bin': (_q, r) => r.writeHead(308, { location: '/m/weights.bin' }).end(),
      '/away/model.json': (_q, r) => r.writeHead(301, { location: `${otherBase}/m/model.json` }).end(),
      '/hop/model.json': (_q, r) => r.writeHead(200).end(json([{ paths: ['w.bin'], weights: specs() }])),
      '/hop/w.bin': (_q, r) => r.writeHead(307, { location: `${otherBase}/w.bin` }).end(),
      '/dots/model.json': (_q, r) => r.writeHead(200).end(json([{ paths: ['%2e%2e/secret.bin'], weights: specs() }])),
      '/big/model.json': (_q, r) => r.writeHead(200).end(json([{ paths: ['w.bin'], weights: specs() }])),
      // Claims nothing about its length and streams far more than the manifest declares.
      '/big/w.bin': (_q, r) => {
        let sent = 0;
        const more = (): void => {
          while (sent < 64 * 1024 * 1024 && !r.writableNeedDrain) {
            r.write(Buffer.alloc(64 * 1024));
            sent += 64 * 1024;
          }
          if (sent >= 64 * 1024 * 1024) r.end();
        };
        r.on('drain', more);
        r.on('close', () => r.off('drain', more));
        r.writeHead(200);
        more();
      },
    };
    main = createServer((req, res) => {
      seen.push(req.url ?? '');
      const route = routes[req.url ?? ''];
      if (route) route(req, res);
      else res.writeHead(404).end();
    });
    base = await listen(main);
  });
  afterAll(async () => {
    main.closeAllConnections();
    other.closeAllConnections();
    await Promise.all([main, other].map((s) => new Promise((ok) => s.close(ok))));
  });

  it('loads a model and follows a redirect on the same host', async () => {
    const expected = await predictValues(smallModel(), probe());
    expect(await predictValues(await loadLayersModel(`${base}/m`), probe())).toEqual(expected);
    expect(await predictValues(await loadLayersModel(`${base}/moved/model.json`), probe())).toEqual(expected);
  });

  it('follows no redirect to another host, for model.json or a shard', async () => {
    otherSeen.length = 0;
    expect((await failure(loadLayersModel(`${base}/away`))).message).toMatch(
      new RegExp(`/away/model\\.json: redirected to another host \\(${otherBase}\\); not followed`),
    );
    expect((await failure(loadLayersModel(`${base}/hop`))).message).toMatch(/hop\/w\.bin: redirected to another host/);
    expect(otherSeen).toEqual([]);
  });

  it('does not let a percent-encoded ".." shard path leave the model folder', async () => {
    seen.length = 0;
    expect((await failure(loadLayersModel(`${base}/dots`))).message).toMatch(/must stay inside the model folder/);
    expect(seen).toEqual(['/dots/model.json']);
  });

  it('caps model.json and the weights: refused from the manifest, or cut off while streaming', async () => {
    seen.length = 0;
    const small = { maxWeightBytes: weights.length - 1 };
    expect((await failure(loadLayersModel(`${base}/m`, small))).message).toMatch(
      new RegExp(`declares ${weights.length} bytes of weights, over the limit of ${weights.length - 1} bytes`),
    );
    expect(seen).toEqual(['/m/model.json']); // no shard was requested
    expect((await failure(loadLayersModel(`${base}/m`, { maxJsonBytes: 100 }))).message).toMatch(
      /model\.json: more than 100 bytes \(the limit on model\.json\)/,
    );
    // The manifest is small but the server streams 64 MiB: reading stops at what the manifest declares.
    const err = await failure(loadLayersModel(`${base}/big`));
    expect(err.message).toMatch(
      new RegExp(`big/w\\.bin: more than ${weights.length} bytes \\(what .*/big/model\\.json declares`),
    );
  });
});

describe('copyModel', () => {
  it('copies a sharded model into the standard layout with its side files, checking it as a load does', async () => {
    const half = weights.length >> 1;
    const source = await folder('copy-source', [{ paths: ['a.bin', 'b.bin'], weights: specs() }], {
      'a.bin': weights.subarray(0, half),
      'b.bin': weights.subarray(half),
      'metadata.json': Buffer.from('{"name":"x"}'),
    });
    const target = join(dir, 'copy-target', '1');
    await copyModel(source, target, { sideFiles: ['metadata.json', 'absent.json'] });
    expect((await readdir(target)).sort()).toEqual(['metadata.json', 'model.json', 'weights.bin']);
    expect(await readFile(join(target, 'weights.bin'))).toEqual(weights);
    expect(await predictValues(await loadLayersModel(target), probe())).toEqual(
      await predictValues(smallModel(), probe()),
    );
    // A broken source leaves nothing at the target.
    const broken = await folder('copy-broken', [{ paths: ['../x.bin'], weights: specs() }], {});
    const fresh = join(dir, 'copy-target', '2');
    expect((await failure(copyModel(broken, fresh))).message).toMatch(/must stay inside the model folder/);
    expect(await readdir(join(dir, 'copy-target'))).toEqual(['1']);
    await expect(copyModel(source, fresh, { sideFiles: ['../model.json'] })).rejects.toThrow(/inside the model folder/);
  });
});
