import { existsSync, renameSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { hasCheckpoint, loadCheckpoint, readCheckpointState, saveCheckpoint } from '@tuneserve/tuner';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';

const dir = tempDir();

function model(): tf.LayersModel {
  const m = tf.sequential({
    layers: [tf.layers.dense({ inputShape: [3], units: 4, activation: 'relu' }), tf.layers.dense({ units: 1 })],
  });
  m.compile({ optimizer: tf.train.adam(0.05), loss: 'meanSquaredError' });
  return m;
}

async function slots(m: tf.LayersModel): Promise<number[][]> {
  const named = await (m.optimizer as tf.Optimizer).getWeights();
  const out = named.map((n) => Array.from(n.tensor.dataSync()));
  for (const n of named) if (!(n.tensor instanceof tf.Variable)) n.tensor.dispose();
  return out;
}

describe('checkpoints', () => {
  it('round-trips weights and Adam slots into a freshly built model, and survives a kill between renames', async () => {
    const x = tf.randomNormal([16, 3], 0, 1, 'float32', 3);
    const y = tf.randomNormal([16, 1], 0, 1, 'float32', 4);
    const a = model();
    await a.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0 });
    const target = path.join(dir, 'resume');
    await saveCheckpoint(a, target, { execution: 0, epoch: 1 }, true);
    const saved = a.getWeights().map((w) => Array.from(w.dataSync()));
    expect(await readCheckpointState(target)).toEqual({ execution: 0, epoch: 1 });

    const b = model();
    const before = tf.memory().numTensors;
    await loadCheckpoint(b, target, true);
    expect(tf.memory().numTensors - before).toBeLessThanOrEqual(8); // the optimizer's new slot variables only
    expect(b.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(
      a.getWeights().map((w) => Array.from(w.dataSync())),
    );
    expect(await slots(b)).toEqual(await slots(a));
    // Training continues identically from the restored state.
    await a.fit(x, y, { epochs: 1, batchSize: 16, shuffle: false, verbose: 0 });
    await b.fit(x, y, { epochs: 1, batchSize: 16, shuffle: false, verbose: 0 });
    const wa = a.getWeights().map((w) => Array.from(w.dataSync()));
    const wb = b.getWeights().map((w) => Array.from(w.dataSync()));
    for (const [i, w] of wa.entries()) {
      for (const [j, v] of w.entries()) expect(wb[i]?.[j]).toBeCloseTo(v, 5);
    }

    // A kill after "rename old away" and before "rename new in" leaves only the folder moved aside (the runtime's
    // name for it: hidden temporary sibling + .old), written by a process that cannot exist (pids stop at 2^22).
    const aside = path.join(dir, `.${path.basename(target)}.tmp-4194305-abcd.old`);
    renameSync(target, aside);
    expect(hasCheckpoint(target)).toBe(true);
    const c = model();
    await loadCheckpoint(c, target);
    expect(c.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(saved);
    await saveCheckpoint(c, target, { execution: 0, epoch: 2 });
    expect(existsSync(aside)).toBe(false);
    expect(await readCheckpointState(target)).toEqual({ execution: 0, epoch: 2 });

    const wrong = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 2 })] });
    await expect(loadCheckpoint(wrong, target)).rejects.toThrow(/holds 4 weights but the model has 2|shape/);
    tf.dispose([x, y]);
    for (const m of [a, b, c, wrong]) m.dispose();
  });
});
