/** What the route plugins share: the models, limits, and how to find a model and a version. */
import { parseInteger } from '@tuneserve/runtime';
import type { Deadlines } from './deadlines.js';
import { DeadlineExceededError, InvalidInputError, NotFoundError, NotReadyError } from './errors.js';
import type { ServedVersion } from './model/manager.js';
import type { ModelRegistry, ServedModel } from './model/registry.js';
import type { Batch } from './tensor-input.js';

export interface ServingContext {
  models: ModelRegistry;
  /** Most examples one request may carry. */
  maxInstances: number;
  /** Deadline for one prediction, queueing included. */
  deadlines: Deadlines;
  /** Most decoded pixels of one image (width x height), against decompression bombs. */
  maxImagePixels: number;
  /** Largest image upload (raw body or multipart file) in bytes. */
  maxImageBytes: number;
}

export interface VersionSelector {
  version?: string | undefined;
  label?: string | undefined;
}

const describeRequest = (name: string, sel: VersionSelector): string =>
  sel.version !== undefined
    ? `Specific(${name}, ${sel.version})`
    : sel.label !== undefined
      ? `Label(${name}, ${sel.label})`
      : `Latest(${name})`;

/** The model of the single-model routes (/predict, /api/model), or 503 while none is loaded. */
export function defaultModel(ctx: ServingContext): ServedModel {
  const model = ctx.models.defaultModel();
  if (!model) throw new NotReadyError('no model is loaded yet');
  return model;
}

/** Finds the servable a URL names, in TF Serving's terms: 404 unknown, 503 nothing loaded yet. */
export function resolveVersion(ctx: ServingContext, name: string, sel: VersionSelector): ServedVersion {
  const model = ctx.models.get(name);
  if (!model) throw new NotFoundError(`Servable not found for request: ${describeRequest(name, sel)}`);
  return resolveIn(model, sel);
}

/** A version of a known model by number, label or latest. */
export function resolveIn(model: ServedModel, sel: VersionSelector): ServedVersion {
  const name = model.name;
  let number: number | undefined;
  if (sel.version !== undefined) {
    number = parseInteger(sel.version);
    if (number === undefined) throw new InvalidInputError(`version "${sel.version}" is not an integer`);
  } else if (sel.label !== undefined) {
    number = model.labels[sel.label];
    if (number === undefined || !Object.hasOwn(model.labels, sel.label)) {
      throw new NotFoundError(`Unrecognized servable version label: ${sel.label}`);
    }
  }
  if (number === undefined) {
    const latest = model.latest();
    if (!latest) throw new NotReadyError(`Servable not available yet: ${describeRequest(name, sel)} is loading`);
    return latest;
  }
  const served = model.versions.get(number);
  if (!served) throw new NotFoundError(`Servable not found for request: ${describeRequest(name, sel)}`);
  return served;
}

/** Runs a prediction, answering 504 if it is not done within the deadline. */
export function predictWithDeadline(ctx: ServingContext, served: ServedVersion, batch: Batch): Promise<Float32Array> {
  return new Promise((resolve, reject) => {
    const deadline = ctx.deadlines.start(() =>
      reject(new DeadlineExceededError(`prediction did not finish within ${ctx.deadlines.durationMs} ms`)),
    );
    served.predict(batch).then(
      (out) => {
        deadline.clear();
        resolve(out);
      },
      (err: unknown) => {
        deadline.clear();
        reject(err);
      },
    );
  });
}

/**
 * The JSON text `{"<key>":[[row 0],[row 1],...]}` for a flat output of `count` rows of `size` values. Written by
 * hand because the generic path (an array per row, then a schema serializer) cost a third more than the numbers'
 * own formatting. Values that JSON cannot hold (NaN, ±Infinity) are written as null, as JSON.stringify does.
 */
export function rowsJson(key: string, output: Float32Array, count: number, size: number): string {
  let text = `{"${key}":[`;
  for (let r = 0; r < count; r++) {
    text += r === 0 ? '[' : ',[';
    const base = r * size;
    for (let c = 0; c < size; c++) {
      const v = output[base + c] as number;
      if (c > 0) text += ',';
      text += Number.isFinite(v) ? v : 'null';
    }
    text += ']';
  }
  return `${text}]}`;
}
