/** What the route plugins share: the model manager, limits, and how to find a version. */
import type { Deadlines } from './deadlines.js';
import { DeadlineExceededError, InvalidInputError, NotFoundError, NotReadyError } from './errors.js';
import type { ModelManager, ServedVersion } from './model/manager.js';
import type { Batch } from './tensor-input.js';

export interface ServingContext {
  modelName: string;
  models: ModelManager;
  /** Most examples one request may carry. */
  maxInstances: number;
  /** Deadline for one prediction, queueing included. */
  deadlines: Deadlines;
  /** TF Serving version labels (`stable` -> 3); a label only resolves while its version is loaded. */
  labels: Record<string, number>;
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

/** Finds the servable a URL names, in TF Serving's terms: 404 unknown, 503 nothing loaded yet. */
export function resolveVersion(ctx: ServingContext, name: string, sel: VersionSelector): ServedVersion {
  if (name !== ctx.modelName) throw new NotFoundError(`Servable not found for request: ${describeRequest(name, sel)}`);
  let number: number | undefined;
  if (sel.version !== undefined) {
    if (!/^\d{1,15}$/.test(sel.version)) throw new InvalidInputError(`version "${sel.version}" is not an integer`);
    number = Number(sel.version);
  } else if (sel.label !== undefined) {
    number = ctx.labels[sel.label];
    if (number === undefined || !Object.hasOwn(ctx.labels, sel.label)) {
      throw new NotFoundError(`Unrecognized servable version label: ${sel.label}`);
    }
  }
  if (number === undefined) {
    const latest = ctx.models.latest();
    if (!latest) throw new NotReadyError(`Servable not available yet: ${describeRequest(name, sel)} is loading`);
    return latest;
  }
  const served = ctx.models.get(number);
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
