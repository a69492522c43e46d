/**
 * Trial checkpoints. A checkpoint folder holds the standard TF.js layout (model.json + weights.bin,
 * loadable with tf.loadLayersModel), optionally the optimizer's slots (optimizer.json +
 * optimizer.bin) and a small state.json. Folders are written to a temporary sibling, fsynced and
 * renamed into place, so a SIGKILL leaves either the old or the new checkpoint, never half of one.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { CheckpointError } from './errors.js';

export interface CheckpointState {
  [key: string]: unknown;
}

async function writeSynced(file: string, data: string | Uint8Array): Promise<void> {
  const handle = await open(file, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function toBytes(data: tf.io.WeightData | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array();
  return new Uint8Array(tf.io.CompositeArrayBuffer.join(data));
}

async function captureModel(model: tf.LayersModel): Promise<tf.io.ModelArtifacts> {
  let captured: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      captured = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
    { includeOptimizer: false },
  );
  if (!captured) throw new Error('The model produced no artifacts to save.');
  return captured;
}

/** Saves model weights (+ optimizer slots when `withOptimizer`) and `state` into `dir` atomically. */
export async function saveCheckpoint(
  model: tf.LayersModel,
  dir: string,
  state: CheckpointState,
  withOptimizer = false,
): Promise<void> {
  const artifacts = await captureModel(model);
  const files: Record<string, string | Uint8Array> = {
    'model.json': JSON.stringify({
      format: 'layers-model',
      generatedBy: 'tuneserve-tuner',
      modelTopology: artifacts.modelTopology,
      weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
    }),
    'weights.bin': toBytes(artifacts.weightData),
    'state.json': JSON.stringify(state),
  };
  const optimizer = model.optimizer as tf.Optimizer | undefined;
  if (withOptimizer && optimizer) {
    try {
      const slots = await optimizer.getWeights();
      let encoded: Awaited<ReturnType<typeof tf.io.encodeWeights>>;
      try {
        encoded = await tf.io.encodeWeights(slots);
      } finally {
        // getWeights() makes a fresh scalar for the iteration count; the slots themselves are variables.
        for (const s of slots) if (!(s.tensor instanceof tf.Variable)) s.tensor.dispose();
      }
      files['optimizer.json'] = JSON.stringify({ className: optimizer.getClassName(), specs: encoded.specs });
      files['optimizer.bin'] = toBytes(encoded.data);
    } catch {
      // Some optimizers (e.g. custom fused ones) cannot export their slots; weights alone still resume.
    }
  }
  const target = path.resolve(dir);
  await mkdir(path.dirname(target), { recursive: true });
  const tmp = `${target}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await mkdir(tmp);
    for (const [name, data] of Object.entries(files)) await writeSynced(path.join(tmp, name), data);
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    throw writeError(target, error);
  }
  try {
    const old = `${target}.old-${process.pid}-${randomBytes(4).toString('hex')}`;
    if (existsSync(target)) await rename(target, old);
    await rename(tmp, target);
    await rm(old, { recursive: true, force: true });
    await removeLeftovers(target);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** A full disk says so, names the checkpoint and that the previous one is still there. */
function writeError(target: string, error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if (code !== 'ENOSPC' && code !== 'EDQUOT' && code !== 'EFBIG') return error;
  const why = code === 'EFBIG' ? 'a file is over the size limit (EFBIG)' : `no space left on the device (${code})`;
  return new CheckpointError(`Cannot write the checkpoint ${target}: ${why}; the previous checkpoint is kept.`, {
    cause: error,
  });
}

function complete(dir: string): boolean {
  return existsSync(path.join(dir, 'model.json')) && existsSync(path.join(dir, 'state.json'));
}

/**
 * The folder holding the checkpoint: `dir` itself, or, when a kill hit between the two renames of
 * saveCheckpoint, the complete `.old-*` sibling that was being replaced.
 */
function resolveDir(dir: string): string | undefined {
  if (complete(dir)) return dir;
  const parent = path.dirname(dir);
  const prefix = `${path.basename(dir)}.old-`;
  if (!existsSync(parent)) return undefined;
  const old = readdirSync(parent)
    .filter((name) => name.startsWith(prefix))
    .map((name) => path.join(parent, name))
    .filter(complete);
  return old[0];
}

/** Deletes `.old-*` / `.tmp-*` siblings that a killed process left behind. */
async function removeLeftovers(target: string): Promise<void> {
  const parent = path.dirname(target);
  const base = path.basename(target);
  for (const name of readdirSync(parent)) {
    if (name.startsWith(`${base}.old-`) || name.startsWith(`${base}.tmp-`)) {
      const pid = Number(name.split('-')[1]);
      if (pid !== process.pid || name.startsWith(`${base}.old-`))
        await rm(path.join(parent, name), { recursive: true, force: true });
    }
  }
}

export function hasCheckpoint(dir: string): boolean {
  return resolveDir(dir) !== undefined;
}

export async function readCheckpointState<T extends CheckpointState>(dir: string): Promise<T | undefined> {
  const found = resolveDir(dir);
  if (!found) return undefined;
  try {
    return JSON.parse(await readFile(path.join(found, 'state.json'), 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/**
 * Loads a checkpoint's weights (in saved order) into a freshly built model of the same
 * architecture, and the optimizer slots when asked and present. Layer names may differ between
 * builds (dense_1 vs dense_7), so weights are matched by position, with shapes checked.
 */
export async function loadCheckpoint(
  model: tf.LayersModel,
  checkpointDir: string,
  withOptimizer = false,
): Promise<void> {
  const dir = resolveDir(checkpointDir);
  if (!dir) throw new Error(`No complete checkpoint at ${checkpointDir}.`);
  const manifest = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8')) as {
    weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[];
  };
  const specs = manifest.weightsManifest.flatMap((g) => g.weights);
  const bytes = await readFile(path.join(dir, 'weights.bin'));
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const named = tf.io.decodeWeights(buffer, specs);
  try {
    const tensors = specs.map((s) => named[s.name] as tf.Tensor);
    const expected = model.weights;
    if (tensors.length !== expected.length) {
      throw new Error(
        `Checkpoint ${dir} holds ${tensors.length} weights but the model has ${expected.length}; was the model built differently?`,
      );
    }
    tensors.forEach((t, i) => {
      const want = expected[i]?.shape ?? [];
      if (JSON.stringify(t.shape) !== JSON.stringify(want)) {
        throw new Error(`Checkpoint ${dir}: weight ${i} has shape [${t.shape}] but the model expects [${want}].`);
      }
    });
    model.setWeights(tensors);
  } finally {
    tf.dispose(Object.values(named));
  }
  const optimizer = model.optimizer as tf.Optimizer | undefined;
  if (withOptimizer && optimizer && existsSync(path.join(dir, 'optimizer.json'))) {
    const meta = JSON.parse(await readFile(path.join(dir, 'optimizer.json'), 'utf8')) as {
      className: string;
      specs: tf.io.WeightsManifestEntry[];
    };
    if (meta.className !== optimizer.getClassName()) return;
    const obytes = await readFile(path.join(dir, 'optimizer.bin'));
    const slots = tf.io.decodeWeights(
      obytes.buffer.slice(obytes.byteOffset, obytes.byteOffset + obytes.byteLength),
      meta.specs,
    );
    // setWeights keeps the tensors as new variables; dispose our decoded copies afterwards.
    try {
      await optimizer.setWeights(meta.specs.map((s) => ({ name: s.name, tensor: slots[s.name] as tf.Tensor })));
    } finally {
      tf.dispose(Object.values(slots));
    }
  }
}
