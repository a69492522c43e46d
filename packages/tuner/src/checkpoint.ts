/**
 * Trial checkpoints: a model folder written by the runtime's saveLayersModel (standard TF.js layout, published
 * atomically, a killed save leaves the previous folder readable) with two side files of the tuner's: state.json
 * and, for resuming, the optimizer's slots (optimizer.json + optimizer.bin).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { diskFullReason, ModelFileError, publishedDir, readModelFiles, saveLayersModel } from '@tuneserve/runtime';
import { CheckpointError } from './errors.js';

export interface CheckpointState {
  [key: string]: unknown;
}

const STATE_JSON = 'state.json';
const OPTIMIZER_JSON = 'optimizer.json';
const OPTIMIZER_BIN = 'optimizer.bin';

function toBytes(data: tf.io.WeightData | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array();
  return new Uint8Array(tf.io.CompositeArrayBuffer.join(data));
}

const arrayBuffer = (bytes: Uint8Array): ArrayBuffer =>
  bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;

/** The optimizer's slots as side files, or none when the optimizer cannot export them. */
async function optimizerFiles(optimizer: tf.Optimizer): Promise<Record<string, string | Uint8Array>> {
  try {
    const slots = await optimizer.getWeights();
    let encoded: Awaited<ReturnType<typeof tf.io.encodeWeights>>;
    try {
      encoded = await tf.io.encodeWeights(slots);
    } finally {
      // getWeights() makes a fresh scalar for the iteration count; the slots themselves are variables.
      for (const s of slots) if (!(s.tensor instanceof tf.Variable)) s.tensor.dispose();
    }
    return {
      [OPTIMIZER_JSON]: JSON.stringify({ className: optimizer.getClassName(), specs: encoded.specs }),
      [OPTIMIZER_BIN]: toBytes(encoded.data),
    };
  } catch {
    // Some optimizers (e.g. custom fused ones) cannot export their slots; weights alone still resume.
    return {};
  }
}

/** Saves model weights (+ optimizer slots when `withOptimizer`) and `state` into `dir` atomically. */
export async function saveCheckpoint(
  model: tf.LayersModel,
  dir: string,
  state: CheckpointState,
  withOptimizer = false,
): Promise<void> {
  const optimizer = model.optimizer as tf.Optimizer | undefined;
  const files = {
    [STATE_JSON]: JSON.stringify(state),
    ...(withOptimizer && optimizer ? await optimizerFiles(optimizer) : {}),
  };
  const target = path.resolve(dir);
  try {
    await saveLayersModel(model, target, files);
  } catch (error) {
    // A full disk says so, names the checkpoint and that the previous one is still there.
    const why = error instanceof ModelFileError ? diskFullReason(error.cause) : undefined;
    if (why === undefined) throw error;
    throw new CheckpointError(`Cannot write the checkpoint ${target}: ${why}; the previous checkpoint is kept.`, {
      cause: error,
    });
  }
}

/** The folder holding a complete checkpoint for `dir` (see the runtime's publishedDir), if any. */
const checkpointDir = (dir: string): string | undefined => publishedDir(dir, [STATE_JSON]);

export function hasCheckpoint(dir: string): boolean {
  return checkpointDir(dir) !== undefined;
}

export async function readCheckpointState<T extends CheckpointState>(dir: string): Promise<T | undefined> {
  const found = checkpointDir(dir);
  if (!found) return undefined;
  try {
    return JSON.parse(await readFile(path.join(found, STATE_JSON), 'utf8')) as T;
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
  checkpointPath: string,
  withOptimizer = false,
): Promise<void> {
  const dir = checkpointDir(checkpointPath);
  if (!dir) throw new Error(`No complete checkpoint at ${checkpointPath}.`);
  const optimizer = model.optimizer as tf.Optimizer | undefined;
  const wantSlots = withOptimizer && optimizer !== undefined && existsSync(path.join(dir, OPTIMIZER_JSON));
  const { artifacts, sideFiles } = await readModelFiles(dir, {
    sideFiles: wantSlots ? [OPTIMIZER_JSON, OPTIMIZER_BIN] : [],
  });
  const specs = artifacts.weightSpecs ?? [];
  const named = tf.io.decodeWeights(artifacts.weightData ?? new ArrayBuffer(0), specs);
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
  const metaBytes = sideFiles[OPTIMIZER_JSON];
  const slotBytes = sideFiles[OPTIMIZER_BIN];
  if (!optimizer || !metaBytes || !slotBytes) return;
  const meta = JSON.parse(Buffer.from(metaBytes).toString('utf8')) as {
    className: string;
    specs: tf.io.WeightsManifestEntry[];
  };
  if (meta.className !== optimizer.getClassName()) return;
  const slots = tf.io.decodeWeights(arrayBuffer(slotBytes), meta.specs);
  // setWeights keeps the tensors as new variables; dispose our decoded copies afterwards.
  try {
    await optimizer.setWeights(meta.specs.map((s) => ({ name: s.name, tensor: slots[s.name] as tf.Tensor })));
  } finally {
    tf.dispose(Object.values(slots));
  }
}
