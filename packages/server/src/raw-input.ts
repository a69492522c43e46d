/**
 * Raw inputs for models with a schema: rows of named features (TF Serving row and columnar formats)
 * and images (TF Serving's `{"b64": ...}`, raw bytes from an `image/*` body or a multipart upload),
 * turned into the model's tensor by the same transforms training used (@tuneserve/data). Bad
 * input becomes a 400 naming the field or instance; an image over the pixel limit a 413.
 */

import type { ImageInput, TabularInput } from '@tuneserve/client';
import { decodeImage, encodeRows, FieldError, ImageDecodeError } from '@tuneserve/data';
import { HttpError, InvalidInputError } from './errors.js';
import type { ServedVersion } from './model/manager.js';
import type { Batch } from './tensor-input.js';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$|^[A-Za-z0-9_-]*={0,2}$/;

export interface ImageLimits {
  maxPixels: number;
}

function checkCount(count: number, maxInstances: number, where: string): void {
  if (count === 0) throw new InvalidInputError(`${where} is an empty list`);
  if (count > maxInstances)
    throw new InvalidInputError(`${where} holds ${count} examples; at most ${maxInstances} per request`);
}

function encodeTabular(schema: TabularInput, rows: readonly Record<string, unknown>[]): Float32Array {
  try {
    return encodeRows(schema, rows);
  } catch (e) {
    if (e instanceof FieldError) throw new InvalidInputError(e.message);
    throw e;
  }
}

/** Decodes images into one batch (sharp decodes them on its own threads, side by side). */
export async function decodeImages(
  schema: ImageInput,
  images: readonly Uint8Array[],
  exampleSize: number,
  limits: ImageLimits,
  where: (i: number) => string,
): Promise<Batch> {
  const values = new Float32Array(images.length * exampleSize);
  await Promise.all(
    images.map(async (bytes, i) => {
      let pixels: Float32Array;
      try {
        pixels = await decodeImage(schema, bytes, { maxPixels: limits.maxPixels });
      } catch (e) {
        if (e instanceof ImageDecodeError) throw new HttpError(e.tooLarge ? 413 : 400, `${where(i)}: ${e.message}`);
        throw e;
      }
      if (pixels.length !== exampleSize)
        throw new InvalidInputError(`${where(i)}: decoded to ${pixels.length} values, the model takes ${exampleSize}`);
      values.set(pixels, i * exampleSize);
    }),
  );
  return { values, count: images.length };
}

/** The bytes of TF Serving's binary convention `{"b64": "<base64>"}`. */
function b64Bytes(value: unknown, where: string): Uint8Array {
  if (!isRecord(value) || typeof value.b64 !== 'string')
    throw new InvalidInputError(`${where} must be {"b64": "<base64 PNG, JPEG or WebP>"}`);
  const text = value.b64.replace(/\s+/g, '');
  if (text.length === 0 || !BASE64.test(text)) throw new InvalidInputError(`${where}.b64 is not base64`);
  return Buffer.from(text, 'base64');
}

/** An image instance: `{"b64": ...}`, or TF Serving's named form `{"<input>": {"b64": ...}}`. */
function imageInstance(value: unknown, where: string): Uint8Array {
  if (isRecord(value) && !('b64' in value)) {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] !== undefined) return b64Bytes(value[keys[0]], `${where}.${keys[0]}`);
  }
  return b64Bytes(value, where);
}

/**
 * TF Serving row format for a model with a schema: named-feature objects (tabular) or b64 images.
 * Undefined when the instances are plain tensors (every model still takes those).
 */
export async function schemaRows(
  served: ServedVersion,
  instances: unknown,
  maxInstances: number,
  limits: ImageLimits,
  where = 'instances',
): Promise<Batch | undefined> {
  const input = served.input;
  if (input.kind === 'tensor' || !Array.isArray(instances) || !isRecord(instances[0])) return undefined;
  checkCount(instances.length, maxInstances, where);
  if (input.kind === 'tabular') {
    const values = encodeTabular(input, instances as Record<string, unknown>[]);
    return { values, count: instances.length };
  }
  const images = instances.map((v, i) => imageInstance(v, `${where}[${i}]`));
  return decodeImages(input, images, served.signature.exampleSize, limits, (i) => `${where}[${i}]`);
}

/**
 * TF Serving columnar format for a model with a schema: `{"<feature>": [values...], ...}` (tabular)
 * or a list of b64 images, bare or under one input name. Undefined for plain tensors.
 */
export async function schemaColumns(
  served: ServedVersion,
  inputs: unknown,
  maxInstances: number,
  limits: ImageLimits,
): Promise<Batch | undefined> {
  const input = served.input;
  if (input.kind === 'tensor') return undefined;
  if (input.kind === 'image') {
    let list = inputs;
    if (isRecord(inputs) && !('b64' in inputs) && Object.keys(inputs).length === 1) list = Object.values(inputs)[0];
    if (isRecord(list)) list = [list];
    if (!Array.isArray(list) || !isRecord(list[0])) return undefined;
    return schemaRows(served, list, maxInstances, limits, 'inputs');
  }
  if (!isRecord(inputs)) return undefined;
  const columns = Object.entries(inputs);
  let count: number | undefined;
  for (const [name, column] of columns) {
    const length = Array.isArray(column) ? column.length : 1;
    if (count === undefined) count = length;
    else if (length !== count)
      throw new InvalidInputError(`inputs.${name} has ${length} values; the other features have ${count}`);
  }
  checkCount(count ?? 0, maxInstances, 'inputs');
  const rows = Array.from({ length: count ?? 0 }, (_, r) => {
    const row: Record<string, unknown> = {};
    for (const [name, column] of columns) row[name] = Array.isArray(column) ? column[r] : column;
    return row;
  });
  return { values: encodeTabular(input, rows), count: rows.length };
}

/** KServe v2 inputs for a model with a schema: one BYTES tensor of base64 images, or one tensor per feature. */
export async function schemaKserveInputs(
  served: ServedVersion,
  inputs: unknown,
  maxInstances: number,
  limits: ImageLimits,
): Promise<Batch | undefined> {
  const input = served.input;
  if (input.kind === 'tensor' || !Array.isArray(inputs)) return undefined;
  const tensors = inputs as { name?: unknown; datatype?: unknown; data?: unknown }[];
  if (input.kind === 'image') {
    const [first] = tensors;
    if (tensors.length !== 1 || !isRecord(first) || first.datatype !== 'BYTES') return undefined;
    const data = Array.isArray(first.data) ? first.data.flat(8) : [];
    checkCount(data.length, maxInstances, 'inputs[0].data');
    const images = data.map((d, i) => {
      if (typeof d !== 'string') throw new InvalidInputError(`inputs[0].data[${i}] must be a base64 string`);
      return b64Bytes({ b64: d }, `inputs[0].data[${i}]`);
    });
    return decodeImages(input, images, served.signature.exampleSize, limits, (i) => `inputs[0].data[${i}]`);
  }
  const names = new Set(input.features.map((f) => f.name));
  if (!tensors.every((t) => isRecord(t) && typeof t.name === 'string' && names.has(t.name))) return undefined;
  const columns: Record<string, unknown> = {};
  for (const t of tensors) {
    if (!Array.isArray(t.data)) throw new InvalidInputError(`inputs "${String(t.name)}": data must be a list`);
    columns[t.name as string] = t.data.flat(8);
  }
  return schemaColumns(served, columns, maxInstances, limits);
}

/** How a model's inputs look over KServe v2 (REST and gRPC): BYTES images, one tensor per feature, or the plain tensor. */
export function v2Inputs(served: ServedVersion): { name: string; datatype: string; shape: number[] }[] {
  const input = served.input;
  const sig = served.signature;
  if (input.kind === 'image') return [{ name: sig.inputName, datatype: 'BYTES', shape: [-1] }];
  if (input.kind === 'tabular')
    return input.features.map((f) => ({ name: f.name, datatype: f.type === 'number' ? 'FP32' : 'BYTES', shape: [-1] }));
  return [{ name: sig.inputName, datatype: 'FP32', shape: [-1, ...sig.exampleShape] }];
}
