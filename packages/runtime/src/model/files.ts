/**
 * Layers-model files on disk or behind http(s), in the standard TF.js layout (model.json + binary weight shards),
 * so files written here load with stock `tf.loadLayersModel` in a browser and converter output loads here.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { access, mkdir, open, readdir, readFile, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
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
  return writeArtifactsToTemp(await captureArtifacts(model), target, extraFiles);
}

async function writeArtifactsToTemp(
  artifacts: tf.io.ModelArtifacts,
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
  const parent = dirname(target);
  const tmp = join(parent, `${tempPrefix(target)}${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(parent, { recursive: true });
    await mkdir(tmp);
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
    throw writeError(target, e);
  }
}

/** Temporary siblings of `target` are named `<prefix><pid>-<random>`; a replaced folder waits at `<temp>.old`. */
const tempPrefix = (target: string): string => `.${basename(target)}.tmp-`;

/** Why a write failed for lack of room (full disk, quota, file size limit), or undefined for any other failure. */
export function diskFullReason(e: unknown): string | undefined {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EFBIG') return 'a file is over the size limit (EFBIG)';
  if (code === 'ENOSPC' || code === 'EDQUOT') return `no space left on the device (${code})`;
  return undefined;
}

/** A failed write says which model, why, and that nothing already published was touched. */
function writeError(target: string, e: unknown): Error {
  const why = diskFullReason(e);
  if (why !== undefined) {
    return new ModelFileError(
      `${target}: cannot write the model: ${why}; the files already there were not changed`,
      target,
      { cause: e },
    );
  }
  return e instanceof Error ? e : new Error(String(e));
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
  await removeLeftovers(target);
}

/** Whether the process whose pid a temporary sibling's name carries is no longer running on this host. */
function deadWriter(name: string, prefix: string): boolean {
  const pid = Number(name.slice(prefix.length).split('-')[0]);
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * After a successful publish, deletes what killed saves of `target` left beside it (temporary folders and folders
 * moved aside for a swap, `.old`) when their writer no longer runs; a live writer's folders are its own business.
 */
async function removeLeftovers(target: string): Promise<void> {
  const parent = dirname(target);
  const prefix = tempPrefix(target);
  for (const name of await readdir(parent)) {
    if (name.startsWith(prefix) && deadWriter(name, prefix))
      await rm(join(parent, name), { recursive: true, force: true });
  }
}

/**
 * The folder holding the model published at `dir`: `dir` itself when it has a model.json (and every one of
 * `required`), else, when a kill hit a replacing save between its two renames, the previous folder still waiting
 * beside it; undefined when there is neither.
 */
export function publishedDir(dir: string, required: readonly string[] = []): string | undefined {
  const target = resolve(dir);
  const complete = (d: string) => [MODEL_JSON, ...required].every((name) => existsSync(join(d, name)));
  if (complete(target)) return target;
  const parent = dirname(target);
  const prefix = tempPrefix(target);
  if (!existsSync(parent)) return undefined;
  return readdirSync(parent)
    .filter((name) => name.startsWith(prefix) && name.endsWith('.old'))
    .map((name) => join(parent, name))
    .find(complete);
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

/** Limits on what a load reads; a model over them is refused before (or while) it is read. */
export interface LoadLimits {
  /** Largest model.json, in bytes (default 64 MiB). */
  maxJsonBytes?: number;
  /** Largest total of weight data over all shards, in bytes (default 2 GiB). */
  maxWeightBytes?: number;
}

const MiB = 1024 * 1024;
const DEFAULT_LIMITS: Required<LoadLimits> = { maxJsonBytes: 64 * MiB, maxWeightBytes: 2048 * MiB };
/** Same-host redirects followed before giving up. */
const MAX_REDIRECTS = 5;

/** A file of the model is not there (ENOENT, HTTP 404): optional side files may be absent. */
class MissingModelFileError extends ModelFileError {}

/** Where model.json and its shards are read from. */
interface ModelSource {
  /** Human-readable location of a file, for error messages. */
  describe(name: string): string;
  /** Reads one file of the model, refusing more than `limit` bytes (`why` says where the limit comes from). */
  read(name: string, limit: number, why: string): Promise<Uint8Array>;
}

const tooLarge = (where: string, limit: number, why: string): ModelFileError =>
  new ModelFileError(`${where}: more than ${limit} bytes (${why})`, where);

/**
 * A weight path from model.json must name a file inside the model's folder: relative, no `..`, no
 * scheme or host, no backslash. model.json is untrusted input (it may come over HTTP).
 */
function checkWeightPath(path: unknown, where: string): string {
  const bad = (why: string) => new ModelFileError(`${where}: weight path ${JSON.stringify(path)} ${why}`, where);
  if (typeof path !== 'string' || path.length === 0) throw bad('must be a non-empty string');
  if (path.includes('\\') || path.includes('\0')) throw bad('contains a backslash or NUL');
  if (path.startsWith('/') || /^[a-z][a-z\d+.-]*:/i.test(path)) throw bad('must be relative to the model folder');
  const segments = path.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..' || /^(%2e|\.){1,2}$/i.test(s)))
    throw bad('must stay inside the model folder (no empty, "." or ".." segments)');
  return path;
}

const inside = (dir: string, file: string): boolean => file.startsWith(dir.endsWith(sep) ? dir : `${dir}${sep}`);

function fileSource(modelJsonPath: string): ModelSource {
  const base = dirname(modelJsonPath);
  const jsonName = basename(modelJsonPath);
  const locate = (name: string) => (name === jsonName ? modelJsonPath : join(base, name));
  const fail = (file: string, e: unknown): ModelFileError => {
    if (e instanceof ModelFileError) return e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return new MissingModelFileError(`${file}: file not found`, file, { cause: e });
    return new ModelFileError(`${file}: ${errorText(e)}`, file, { cause: e });
  };
  return {
    describe: locate,
    read: async (name, limit, why) => {
      const file = locate(name);
      try {
        if (name !== jsonName) {
          // Symbolic links may point anywhere: the real file must still be inside the real folder.
          const [realBase, realFile] = await Promise.all([realpath(base), realpath(file)]);
          if (!inside(realBase, realFile))
            throw new ModelFileError(`${file}: resolves to ${realFile}, outside the model folder`, file);
        }
        const size = (await stat(file)).size;
        if (size > limit) throw tooLarge(file, limit, why);
        return new Uint8Array(await readFile(file));
      } catch (e) {
        throw fail(file, e);
      }
    },
  };
}

/** Reads a response body, stopping as soon as it exceeds `limit` bytes. */
async function readCapped(response: Response, url: string, limit: number, why: string): Promise<Uint8Array> {
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) {
    await response.body?.cancel();
    throw tooLarge(url, limit, why);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (response.body) {
    for await (const chunk of response.body) {
      total += chunk.byteLength;
      if (total > limit) {
        await response.body.cancel().catch(() => undefined);
        throw tooLarge(url, limit, why);
      }
      chunks.push(chunk);
    }
  }
  return Buffer.concat(chunks, total);
}

function httpSource(modelJsonUrl: URL): ModelSource {
  const folder = new URL('.', modelJsonUrl);
  const locate = (name: string) =>
    name === basename(modelJsonUrl.pathname) ? modelJsonUrl.href : new URL(name, modelJsonUrl).href;
  /** Fetches `url`, following redirects only while they stay on the model's host. */
  const get = async (url: string): Promise<Response> => {
    let current = new URL(url);
    for (let hop = 0; ; hop++) {
      let response: Response;
      try {
        response = await fetch(current, { redirect: 'manual', signal: AbortSignal.timeout(60_000) });
      } catch (e) {
        throw new ModelFileError(`${url}: request failed: ${errorText(e)}`, url, { cause: e });
      }
      const location = response.headers.get('location');
      if (response.status < 300 || response.status >= 400 || location === null) {
        if (!response.ok) {
          await response.body?.cancel();
          const Failure = response.status === 404 ? MissingModelFileError : ModelFileError;
          throw new Failure(`${url}: HTTP ${response.status} ${response.statusText}`, url);
        }
        return response;
      }
      await response.body?.cancel();
      const next = new URL(location, current);
      if (next.origin !== folder.origin)
        throw new ModelFileError(`${url}: redirected to another host (${next.origin}); not followed`, url);
      if (hop >= MAX_REDIRECTS) throw new ModelFileError(`${url}: more than ${MAX_REDIRECTS} redirects`, url);
      current = next;
    }
  };
  return {
    describe: locate,
    read: async (name, limit, why) => {
      const url = locate(name);
      // The URL parser decodes %2e%2e segments: check where the resolved URL really points.
      const target = new URL(url);
      if (
        name !== basename(modelJsonUrl.pathname) &&
        (target.origin !== folder.origin || !target.pathname.startsWith(folder.pathname))
      )
        throw new ModelFileError(`${url}: outside the model folder ${folder.href}`, url);
      return readCapped(await get(url), url, limit, why);
    },
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
  const jsonPath = path.endsWith('.json') ? path : join(publishedDir(path) ?? path, MODEL_JSON);
  return { source: fileSource(jsonPath), jsonName: basename(jsonPath) };
}

/** Bytes per element of each weight dtype TF.js stores in shards (strings are length-prefixed, see below). */
const BYTES_PER: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8 };
/** Bytes per element of each quantized storage type, and the dtypes that may be quantized. */
const QUANTIZED_BYTES: Record<string, number> = { uint8: 1, uint16: 2, float16: 2 };
const QUANTIZABLE = new Set(['float32', 'int32']);

/** Checks one manifest entry's name, shape and dtype; returns its element count. */
function checkSpec(spec: tf.io.WeightsManifestEntry, where: string): number {
  const bad = (why: string) =>
    new ModelFileError(`${where}: weight ${JSON.stringify(spec?.name ?? null)} ${why}`, where);
  if (typeof spec !== 'object' || spec === null || typeof spec.name !== 'string') throw bad('needs a "name"');
  if (!Array.isArray(spec.shape) || !spec.shape.every((d) => Number.isSafeInteger(d) && d >= 0))
    throw bad('needs a "shape" of non-negative integers');
  const count = spec.shape.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(count)) throw bad('has a shape too large to hold');
  const q = spec.quantization;
  if (q !== undefined) {
    if (QUANTIZED_BYTES[q?.dtype] === undefined) throw bad(`has an unsupported quantization dtype "${q?.dtype}"`);
    if (!QUANTIZABLE.has(spec.dtype)) throw bad(`of dtype "${spec.dtype}" cannot be quantized`);
  } else if (BYTES_PER[spec.dtype] === undefined && spec.dtype !== 'string') {
    throw bad(`has an unsupported dtype "${spec.dtype}"`);
  }
  return count;
}

/** Bytes the weight takes in its group's data starting at `offset`, or undefined when the data ends first. */
function weightBytes(
  spec: tf.io.WeightsManifestEntry,
  count: number,
  data: Uint8Array,
  offset: number,
): number | undefined {
  const per = spec.quantization ? QUANTIZED_BYTES[spec.quantization.dtype] : BYTES_PER[spec.dtype];
  if (per !== undefined) return count * per;
  // Strings: each element is a little-endian uint32 byte length followed by that many bytes.
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let at = offset;
  for (let i = 0; i < count; i++) {
    if (at + 4 > data.byteLength) return undefined;
    at += 4 + view.getUint32(at, true);
  }
  return at - offset;
}

/** Declared bytes of a group whose weights are all fixed-size, or undefined when it holds strings. */
function fixedGroupBytes(specs: tf.io.WeightsManifestEntry[], counts: number[]): number | undefined {
  let total = 0;
  for (const [i, spec] of specs.entries()) {
    const per = spec.quantization ? QUANTIZED_BYTES[spec.quantization.dtype] : BYTES_PER[spec.dtype];
    if (per === undefined) return undefined;
    total += (counts[i] ?? 0) * per;
  }
  return total;
}

/** Reads and checks model.json and every weight shard, returning in-memory artifacts. */
async function readArtifacts(
  source: ModelSource,
  jsonName: string,
  limits: Required<LoadLimits>,
): Promise<tf.io.ModelArtifacts> {
  const where = source.describe(jsonName);
  const text = Buffer.from(await source.read(jsonName, limits.maxJsonBytes, 'the limit on model.json')).toString(
    'utf8',
  );
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
  // Everything is checked before the first shard is read.
  const groups = manifest.map((group, g) => {
    if (!Array.isArray(group?.paths) || !Array.isArray(group?.weights)) {
      throw new ModelFileError(`${where}: weightsManifest[${g}] needs "paths" and "weights" arrays`, where);
    }
    const paths = group.paths.map((p) => checkWeightPath(p, where));
    const counts = group.weights.map((spec) => checkSpec(spec, where));
    return { paths, specs: group.weights, counts, declared: fixedGroupBytes(group.weights, counts) };
  });
  const declared = groups.reduce((n, g) => n + (g.declared ?? 0), 0);
  if (declared > limits.maxWeightBytes) {
    throw new ModelFileError(
      `${where}: declares ${declared} bytes of weights, over the limit of ${limits.maxWeightBytes} bytes`,
      where,
    );
  }
  const specs: tf.io.WeightsManifestEntry[] = [];
  const buffers: ArrayBuffer[] = [];
  let read = 0;
  for (const group of groups) {
    const shards: Uint8Array[] = [];
    let groupRead = 0;
    for (const path of group.paths) {
      // No shard may bring more than the group declares (when known) or than the total limit allows.
      const budget = limits.maxWeightBytes - read;
      const left = (group.declared ?? Number.POSITIVE_INFINITY) - groupRead;
      const shard =
        left < budget
          ? await source.read(path, left, `what ${where} declares for this weight group`)
          : await source.read(path, budget, 'the limit on weight bytes');
      read += shard.byteLength;
      groupRead += shard.byteLength;
      shards.push(shard);
    }
    const data = shards.length === 1 && shards[0] ? shards[0] : new Uint8Array(Buffer.concat(shards));
    let expected = 0;
    for (const [i, spec] of group.specs.entries()) {
      const bytes = weightBytes(spec, group.counts[i] ?? 0, data, expected);
      expected = bytes === undefined ? Number.POSITIVE_INFINITY : expected + bytes;
      if (expected > data.byteLength) break;
    }
    if (expected !== data.byteLength) {
      const files = group.paths.map((p) => source.describe(p)).join(', ');
      const needs = Number.isFinite(expected) ? `${expected} bytes` : 'more bytes';
      throw new ModelFileError(
        `${files}: weight data is ${data.byteLength} bytes but ${where} declares ${needs} (truncated or mismatched files)`,
        files,
      );
    }
    specs.push(...group.specs);
    buffers.push(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer);
  }
  return tf.io.getModelArtifactsForJSONSync(json, specs, tf.io.CompositeArrayBuffer.join(buffers));
}

/** Largest side file (metadata.json and the like) a read takes. */
const MAX_SIDE_FILE_BYTES = 16 * MiB;

/** A model read into memory, checked, with whichever of the asked side files were present. */
export interface ModelFiles {
  artifacts: tf.io.ModelArtifacts;
  sideFiles: Record<string, Uint8Array>;
}

/**
 * Reads model.json, its shards and each present one of `sideFiles` from a folder or an http(s) URL, with every
 * check a load makes (paths, sizes, dtypes, byte counts, redirects), without building the model.
 */
export async function readModelFiles(
  from: string,
  options: LoadLimits & { sideFiles?: string[] } = {},
): Promise<ModelFiles> {
  const { source, jsonName } = sourceFor(from);
  const artifacts = await readArtifacts(source, jsonName, { ...DEFAULT_LIMITS, ...options });
  const sideFiles: Record<string, Uint8Array> = {};
  for (const name of options.sideFiles ?? []) {
    try {
      sideFiles[name] = await source.read(checkWeightPath(name, name), MAX_SIDE_FILE_BYTES, 'the limit on side files');
    } catch (e) {
      if (!(e instanceof MissingModelFileError)) throw e;
    }
  }
  return { artifacts, sideFiles };
}

/**
 * Copies a model from a folder or an http(s) URL into `dir` in the standard layout, atomically, checked as
 * readModelFiles checks it: a deployment's download step. Each of `sideFiles` (e.g. metadata.json) is copied when
 * present.
 */
export async function copyModel(
  from: string,
  dir: string,
  options: LoadLimits & { sideFiles?: string[] } = {},
): Promise<void> {
  const { artifacts, sideFiles } = await readModelFiles(from, options);
  const target = resolve(dir);
  const tmp = await writeArtifactsToTemp(artifacts, target, sideFiles);
  try {
    await replaceDir(tmp, target);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Loads a layers model from a directory, a model.json path, or a file:// / http(s):// URL. */
export async function loadLayersModel(dirOrUrl: string, limits: LoadLimits = {}): Promise<tf.LayersModel> {
  const { source, jsonName } = sourceFor(dirOrUrl);
  const artifacts = await readArtifacts(source, jsonName, { ...DEFAULT_LIMITS, ...limits });
  try {
    return await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  } catch (e) {
    const where = source.describe(jsonName);
    throw new ModelFileError(`${where}: cannot build the model from these files: ${errorText(e)}`, where, {
      cause: e,
    });
  }
}
