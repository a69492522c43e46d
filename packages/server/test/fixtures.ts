/**
 * Test models with a known answer: a softmax layer over 784 inputs whose class c is driven by
 * pixel c (version "identity") or by pixel 9-c (version "reversed"). An image lit at pixel k is
 * therefore a k, or a 9-k, which tells tests which version answered.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { saveLayersModel } from '@tuneserve/runtime';

export type Mapping = 'identity' | 'reversed';

export function buildModel(mapping: Mapping): tf.LayersModel {
  const model = tf.sequential({
    layers: [tf.layers.dense({ units: 10, inputShape: [784], activation: 'softmax', name: 'digits' })],
  });
  const kernel = new Float32Array(784 * 10);
  for (let c = 0; c < 10; c++) {
    const pixel = mapping === 'identity' ? c : 9 - c;
    kernel[pixel * 10 + c] = 20;
  }
  const weights = [tf.tensor2d(kernel, [784, 10]), tf.zeros([10])];
  model.setWeights(weights);
  tf.dispose(weights);
  return model;
}

/** Writes a model folder (atomically, as the runtime does). */
export async function writeModel(dir: string, mapping: Mapping, withMetadata = true): Promise<void> {
  const model = buildModel(mapping);
  const extra: Record<string, string> = withMetadata
    ? {
        'metadata.json': JSON.stringify({
          name: 'mnist',
          inputShape: [784],
          labels: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
          tuneserveVersion: '0.1.0',
          mapping,
        }),
      }
    : {};
  await saveLayersModel(model, dir, extra);
  model.dispose();
}

export async function freshDir(name: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `tuneserve-server-${name}-`));
}

/** A flat 784 image lit at one pixel. */
export function image(pixel: number, value = 1): number[] {
  const data = new Array<number>(784).fill(0);
  data[pixel] = value;
  return data;
}

export const writeText = writeFile;
