/**
 * Loads one TF.js layers model directory (model.json + weight shards, optional metadata.json) and
 * describes its signature. A directory without metadata.json (e.g. converter output) is served
 * too: the input shape comes from model.json and the labels are "0".."N-1".
 */
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import type { InputSchema, OutputSchema } from '@tuneserve/client';
import { loadLayersModel } from '@tuneserve/runtime';
import { ModelLoadError } from '../errors.js';
import type { InputSpec } from '../tensor-input.js';
import { readInputSchema, readOutputSchema } from './schema.js';

export interface ModelSignature extends InputSpec {
  outputName: string;
  /** Values per example in the output, e.g. 10 class probabilities. */
  outputSize: number;
  labels: string[];
}

export interface LoadedModelFiles {
  model: tf.LayersModel;
  signature: ModelSignature;
  /** Contents of metadata.json, or a minimal description derived from model.json. */
  metadata: Record<string, unknown>;
  /** How raw inputs become the model's tensor (a plain tensor for models without a schema). */
  input: InputSchema;
  /** What the output means (classification over `signature.labels` without a schema). */
  output: OutputSchema;
}

/** metadata.json holds labels and figures, never weights: anything larger is not one of ours. */
const MAX_METADATA_BYTES = 16 * 1024 * 1024;

async function readJson(dir: string, file: string, label: string): Promise<unknown> {
  let text: string;
  try {
    const size = (await stat(join(dir, file))).size;
    if (size > MAX_METADATA_BYTES)
      throw new ModelLoadError(`${label}: ${file} is ${size} bytes, over the limit of ${MAX_METADATA_BYTES}`);
    text = await readFile(join(dir, file), 'utf8');
  } catch (e) {
    if (e instanceof ModelLoadError) throw e;
    throw new ModelLoadError(`${label}: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ModelLoadError(`${label}: ${file} is not valid JSON`);
  }
}

/** `label` names the directory in messages (e.g. "version 3"); messages go to the log only. */
export async function loadModelDir(dir: string, label: string): Promise<LoadedModelFiles> {
  let model: tf.LayersModel;
  try {
    model = await loadLayersModel(dir);
  } catch (e) {
    throw new ModelLoadError(`${label}: ${(e as Error).message}`);
  }
  try {
    const signature = describeSignature(model, label);
    let metadata: Record<string, unknown> = { inputShape: signature.exampleShape };
    if (existsSync(join(dir, 'metadata.json'))) {
      const meta = await readJson(dir, 'metadata.json', label);
      if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) {
        throw new ModelLoadError(`${label}: metadata.json must hold an object`);
      }
      metadata = meta as Record<string, unknown>;
    }
    const regression = (metadata.output as { task?: unknown } | undefined)?.task === 'regression';
    const labels = metadata.labels;
    if (labels !== undefined && !(regression && Array.isArray(labels) && labels.length === 0)) {
      if (
        !Array.isArray(labels) ||
        labels.length !== signature.outputSize ||
        !labels.every((l) => typeof l === 'string')
      ) {
        throw new ModelLoadError(`${label}: metadata.json "labels" must list ${signature.outputSize} strings`);
      }
      signature.labels = labels as string[];
    }
    metadata.labels = signature.labels;
    const input = readInputSchema(metadata.input, signature.exampleShape, signature.exampleSize, label);
    const output = readOutputSchema(metadata.output, signature.labels, signature.outputSize, label);
    if (output.task === 'classification') signature.labels = output.labels;
    return { model, signature, metadata, input, output };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

function describeSignature(model: tf.LayersModel, label: string): ModelSignature {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new ModelLoadError(`${label}: only models with one input and one output can be served`);
  }
  const [inputTensor] = model.inputs;
  const [outputTensor] = model.outputs;
  const exampleShape = (inputTensor?.shape ?? []).slice(1);
  const outShape = (outputTensor?.shape ?? []).slice(1);
  if (exampleShape.some((d) => d === null) || outShape.some((d) => d === null) || exampleShape.length === 0) {
    throw new ModelLoadError(
      `${label}: the model's input and output must have fixed sizes besides the batch dimension`,
    );
  }
  const exampleSize = (exampleShape as number[]).reduce((a, b) => a * b, 1);
  const outputSize = (outShape as number[]).reduce((a, b) => a * b, 1);
  return {
    inputName: model.inputNames[0] ?? 'input',
    exampleShape: exampleShape as number[],
    exampleSize,
    outputName: model.outputNames[0] ?? 'output',
    outputSize,
    labels: Array.from({ length: outputSize }, (_, i) => String(i)),
  };
}
