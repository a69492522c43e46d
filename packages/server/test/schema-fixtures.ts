/**
 * Small models with an input/output schema and a known answer, written as the pipeline exports
 * them (model.json + weights + metadata.json with `input` and `output`):
 * - `wine`: tabular (alcohol: number, colour: category red|white), classifies 'cheap' | 'fine' by
 *   alcohol alone (standardised alcohol > 0 → fine);
 * - `price`: the same features, regression; value = standardised alcohol * 10 + 100, i.e. 10 * (alcohol - 13) + 100;
 * - `shade`: an 8x8 RGB image, classifies 'dark' | 'light' by mean brightness (> 0.5 → light).
 */
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { ImageInput, TabularInput } from '@tuneserve/client';
import { saveLayersModel } from '@tuneserve/runtime';
import sharp from 'sharp';

export const wineInput: TabularInput = {
  kind: 'tabular',
  features: [
    { name: 'alcohol', type: 'number', mean: 13, std: 1, min: 11, max: 15 },
    { name: 'colour', type: 'category', categories: ['red', 'white'], other: false },
  ],
};

export const shadeInput: ImageInput = { kind: 'image', width: 8, height: 8, channels: 3, fit: 'fill', layout: 'hwc' };

async function save(model: tf.LayersModel, dir: string, metadata: Record<string, unknown>): Promise<void> {
  await saveLayersModel(model, dir, { 'metadata.json': JSON.stringify({ tuneserveVersion: '0.1.0', ...metadata }) });
  model.dispose();
}

function dense(
  inputShape: number[],
  units: number,
  activation: 'softmax' | 'linear',
  kernel: number[],
  bias: number[],
) {
  const layers: tf.layers.Layer[] = [];
  if (inputShape.length > 1) layers.push(tf.layers.flatten({ inputShape }));
  const size = inputShape.reduce((a, b) => a * b, 1);
  layers.push(tf.layers.dense({ units, activation, ...(inputShape.length > 1 ? {} : { inputShape }) }));
  const model = tf.sequential({ layers });
  const weights = [tf.tensor2d(kernel, [size, units]), tf.tensor1d(bias)];
  model.setWeights(weights);
  tf.dispose(weights);
  return model;
}

export async function writeWine(root: string, version = '1'): Promise<string> {
  const dir = join(root, 'wine', version);
  // inputs: [z(alcohol), red, white]; logits: cheap = -5 z, fine = 5 z
  const model = dense([3], 2, 'softmax', [-5, 5, 0, 0, 0, 0], [0, 0]);
  await save(model, dir, {
    name: 'wine',
    inputShape: [3],
    labels: ['cheap', 'fine'],
    input: wineInput,
    output: { task: 'classification', labels: ['cheap', 'fine'] },
  });
  return dir;
}

export async function writePrice(root: string): Promise<string> {
  const dir = join(root, 'price', '1');
  const model = dense([3], 1, 'linear', [1, 0, 0], [0]);
  await save(model, dir, {
    name: 'price',
    inputShape: [3],
    labels: [],
    input: wineInput,
    output: { task: 'regression', target: 'price', mean: 100, std: 10 },
  });
  return dir;
}

export async function writeShade(root: string): Promise<string> {
  const dir = join(root, 'shade', '1');
  const size = 8 * 8 * 3;
  // light - dark = 20 * (mean - 0.5)
  const kernel: number[] = [];
  for (let i = 0; i < size; i++) kernel.push(-10 / size, 10 / size);
  const model = dense([8, 8, 3], 2, 'softmax', kernel, [5, -5]);
  await save(model, dir, {
    name: 'shade',
    inputShape: [8, 8, 3],
    labels: ['dark', 'light'],
    input: shadeInput,
    output: { task: 'classification', labels: ['dark', 'light'] },
  });
  return dir;
}

/** A solid-colour PNG of the given size. */
export async function png(width: number, height: number, grey: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: grey, g: grey, b: grey } } })
    .png()
    .toBuffer();
}
