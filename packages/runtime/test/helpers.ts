import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';

export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'tuneserve-runtime-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A small MLP with a fixed seed so two builds differ only where the test wants them to. */
export function smallModel(seed = 1): tf.LayersModel {
  const model = tf.sequential();
  model.add(
    tf.layers.dense({
      inputShape: [6],
      units: 5,
      activation: 'relu',
      kernelInitializer: tf.initializers.glorotUniform({ seed }),
    }),
  );
  model.add(
    tf.layers.dense({
      units: 3,
      activation: 'softmax',
      kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }),
    }),
  );
  return model;
}

export function probe(): tf.Tensor2D {
  return tf.tensor2d(
    Array.from({ length: 4 * 6 }, (_, i) => Math.sin(i)),
    [4, 6],
  );
}

export async function predictValues(model: tf.LayersModel, x: tf.Tensor): Promise<Float32Array> {
  const y = model.predict(x) as tf.Tensor;
  const values = (await y.data()) as Float32Array;
  y.dispose();
  return values;
}
