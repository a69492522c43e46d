/**
 * Layers-model files on disk or behind http(s), in the standard TF.js layout (model.json + binary weight shards),
 * so files written here load with stock `tf.loadLayersModel` in a browser and converter output loads here.
 */
import { randomBytes } from 'node:crypto';
import { access, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { ModelFileError } from '../errors.js';
import { TUNESERVE_VERSION } from '../version.js';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

/** Test seam: runs after every file is written and synced, just before the rename that publishes them. */
export interface SaveHooks {
  beforeCommit?: (tmpDir: string) => Promise<void> | void;
}

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Saves atomically: files go to a temporary sibling directory, are fsynced, then renamed over `dir`. */
export async function saveLayersModel(
  model: tf.LayersModel,
  dir: string,
  extraFiles: Record<string, string | Uint8Array> = {},
  hooks: SaveHooks = {},
): Promise<void> {
  const target = resolve(dir);
  const tmp = await writeModelToTemp(model, target, extraFiles);
  try {
    await hooks.beforeCommit?.(tmp);
    await replaceDir(tmp, target);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Writes the model into a fresh hidden sibling of `target` and returns its path (caller commits or removes it). */
export async function writeModelToTemp(
  model: tf.LayersModel,
  target: string,
  extraFiles: Record<string, string | Uint8Array>,
): Promise<string> {
  for (const name of Object.keys(extraFiles)) {
    if (!/^[\w.-]+$/.test(name) || name === MODEL_JSON || name === WEIGHTS_BIN || name.startsWith('.')) {
      throw new ModelFileError(
        `invalid extra file name "${name}": use a plain file name other than model.json/weights.bin`,
      );
    }
  }
  const artifacts = await captureArtifacts(model);
  const parent = dirname(target);
  await mkdir(parent, { recursive: true });
  const tmp = join(parent, `.${basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(tmp);
  try {
    const weights = artifacts.weightData
      ? new Uint8Array(tf.io.CompositeArrayBuffer.join(artifacts.weightData))
      : new Uint8Array(0);
    await writeSynced(join(tmp, WEIGHTS_BIN), weights);
    await writeSynced(join(tmp, MODEL_JSON), JSON.stringify(modelJsonFor(artifacts)));
    for (const [name, content] of Object.entries(extraFiles)) await writeSynced(join(tmp, name), content);
    await syncDir(tmp);
    return tmp;
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** Publishes `tmp` as `target`, replacing an existing directory; the old one is restored if the swap fails. */
async function replaceDir(tmp: string, target: string): Promise<void> {
  const exists = await access(target).then(
    () => true,
    () => false,
  );
  if (!exists) {
    await rename(tmp, target);
  } else {
    // rename(2) cannot replace a non-empty directory, so move the old one aside for the instant of the swap.
    const old = `${tmp}.old`;
    await rename(target, old);
    try {
      await rename(tmp, target);
    } catch (e) {
      await rename(old, target);
      throw e;
    }
    await rm(old, { recursive: true, force: true });
  }
  await syncDir(dirname(target));
}

async function captureArtifacts(model: tf.LayersModel): Promise<tf.io.ModelArtifacts> {
  let captured: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      captured = artifacts;
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
  );
  if (!captured) throw new ModelFileError('the model produced no artifacts to save');
  return captured;
}

function modelJsonFor(a: tf.io.ModelArtifacts): tf.io.ModelJSON {
  const json: tf.io.ModelJSON = {
    modelTopology: a.modelTopology as object,
    format: a.format ?? 'layers-model',
    generatedBy: a.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version_layers}`,
    convertedBy: a.convertedBy ?? `tuneserve ${TUNESERVE_VERSION}`,
    weightsManifest: [{ paths: [WEIGHTS_BIN], weights: a.weightSpecs ?? [] }],
  };
  if (a.trainingConfig) json.trainingConfig = a.trainingConfig;
  if (a.userDefinedMetadata) json.userDefinedMetadata = a.userDefinedMetadata;
  return json;
}

async function writeSynced(file: string, content: string | Uint8Array): Promise<void> {
  const handle = await open(file, 'w');
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Where model.json and its shards are read from. */
interface ModelSource {
  /** Human-readable location of a file, for error messages. */
  describe(name: string): string;
  readText(name: string): Promise<string>;
  readBytes(name: string): Promise<Uint8Array>;
}

function fileSource(modelJsonPath: string): ModelSource {
  const base = dirname(modelJsonPath);
  const jsonName = basename(modelJsonPath);
  const locate = (name: string) => (name === jsonName ? modelJsonPath : join(base, name));
  const read = async (name: string) => {
    try {
      return await readFile(locate(name));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'file not found' : errorText(e);
      throw new ModelFileError(`${locate(name)}: ${why}`, locate(name), { cause: e });
    }
  };
  return {
    describe: locate,
    readText: async (name) => (await read(name)).toString('utf8'),
    readBytes: async (name) => new Uint8Array(await read(name)),
  };
}

function httpSource(modelJsonUrl: URL): ModelSource {
  const locate = (name: string) =>
    name === basename(modelJsonUrl.pathname) ? modelJsonUrl.href : new URL(name, modelJsonUrl).href;
  const get = async (name: string): Promise<Response> => {
    const url = locate(name);
    let response: Response;
    try {
      response = await fetch(url, { signal: AbortSignal.timeout(60_000) });
    } catch (e) {
      throw new ModelFileError(`${url}: request failed: ${errorText(e)}`, url, { cause: e });
    }
    if (!response.ok) throw new ModelFileError(`${url}: HTTP ${response.status} ${response.statusText}`, url);
    return response;
  };
  return {
    describe: locate,
    readText: async (name) => (await get(name)).text(),
    readBytes: async (name) => new Uint8Array(await (await get(name)).arrayBuffer()),
  };
}

/** Accepts a directory, a path to model.json, a file:// URL or an http(s):// URL. */
function sourceFor(dirOrUrl: string): { source: ModelSource; jsonName: string } {
  if (/^https?:\/\//i.test(dirOrUrl)) {
    const url = new URL(dirOrUrl);
    if (!url.pathname.endsWith('.json')) url.pathname = `${url.pathname.replace(/\/?$/, '/')}${MODEL_JSON}`;
    return { source: httpSource(url), jsonName: basename(url.pathname) };
  }
  const path = dirOrUrl.startsWith('file://') ? fileURLToPath(dirOrUrl) : resolve(dirOrUrl);
  const jsonPath = path.endsWith('.json') ? path : join(path, MODEL_JSON);
  return { source: fileSource(jsonPath), jsonName: basename(jsonPath) };
}

const BYTES_PER: Record<string, number> = {
  float32: 4,
  int32: 4,
  bool: 1,
  complex64: 8,
  uint8: 1,
  uint16: 2,
  float16: 2,
};

/** Bytes a weight occupies in its shard, or undefined when it cannot be known up front (strings). */
function specBytes(spec: tf.io.WeightsManifestEntry): number | undefined {
  const per = BYTES_PER[spec.quantization?.dtype ?? spec.dtype];
  if (per === undefined) return undefined;
  return spec.shape.reduce((a, b) => a * b, 1) * per;
}

/** Reads and checks model.json and every weight shard, returning in-memory artifacts. */
async function readArtifacts(source: ModelSource, jsonName: string): Promise<tf.io.ModelArtifacts> {
  const where = source.describe(jsonName);
  const text = await source.readText(jsonName);
  let json: tf.io.ModelJSON;
  try {
    json = JSON.parse(text) as tf.io.ModelJSON;
  } catch (e) {
    throw new ModelFileError(`${where}: not valid JSON (${errorText(e)})`, where, { cause: e });
  }
  if (typeof json !== 'object' || json === null || typeof json.modelTopology !== 'object' || !json.modelTopology) {
    throw new ModelFileError(`${where}: missing "modelTopology"; this is not a TF.js layers model.json`, where);
  }
  const manifest = json.weightsManifest ?? [];
  if (!Array.isArray(manifest)) throw new ModelFileError(`${where}: "weightsManifest" must be an array`, where);
  const specs: tf.io.WeightsManifestEntry[] = [];
  const buffers: ArrayBuffer[] = [];
  for (const [g, group] of manifest.entries()) {
    if (!Array.isArray(group?.paths) || !Array.isArray(group?.weights)) {
      throw new ModelFileError(`${where}: weightsManifest[${g}] needs "paths" and "weights" arrays`, where);
    }
    const shards = await Promise.all(group.paths.map((p) => source.readBytes(p)));
    const got = shards.reduce((n, s) => n + s.byteLength, 0);
    const sizes = group.weights.map(specBytes);
    if (sizes.every((s) => s !== undefined)) {
      const expected = sizes.reduce((n: number, s) => n + (s ?? 0), 0);
      if (got !== expected) {
        const files = group.paths.map((p) => source.describe(p)).join(', ');
        throw new ModelFileError(
          `${files}: weight data is ${got} bytes but ${where} declares ${expected} bytes (truncated or mismatched files)`,
          files,
        );
      }
    }
    specs.push(...group.weights);
    for (const s of shards) buffers.push(s.buffer.slice(s.byteOffset, s.byteOffset + s.byteLength) as ArrayBuffer);
  }
  return tf.io.getModelArtifactsForJSONSync(json, specs, tf.io.CompositeArrayBuffer.join(buffers));
}

/** Loads a layers model from a directory, a model.json path, or a file:// / http(s):// URL. */
export async function loadLayersModel(dirOrUrl: string): Promise<tf.LayersModel> {
  const { source, jsonName } = sourceFor(dirOrUrl);
  const artifacts = await readArtifacts(source, jsonName);
  try {
    return await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  } catch (e) {
    const where = source.describe(jsonName);
    throw new ModelFileError(`${where}: cannot build the model from these files: ${errorText(e)}`, where, {
      cause: e,
    });
  }
}
