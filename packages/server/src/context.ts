/** What the route plugins share: the model manager, limits, and how to find a version. */
import { DeadlineExceededError, InvalidInputError, NotFoundError, NotReadyError } from './errors.js';
import type { ModelManager, ServedVersion } from './model/manager.js';
import type { Batch } from './tensor-input.js';

export interface ServingContext {
  modelName: string;
  models: ModelManager;
  /** Most examples one request may carry. */
  maxInstances: number;
  /** Deadline for one prediction, queueing included. */
  requestTimeoutMs: number;
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

/** Runs a prediction, answering 504 if it is not done within the deadline (one timer, no race promise). */
export function predictWithDeadline(ctx: ServingContext, served: ServedVersion, batch: Batch): Promise<Float32Array> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new DeadlineExceededError(`prediction did not finish within ${ctx.requestTimeoutMs} ms`)),
      ctx.requestTimeoutMs,
    );
    served.predict(batch).then(
      (out) => {
        clearTimeout(timer);
        resolve(out);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/** Splits a flat output into one row per example. */
export function rows(output: Float32Array, count: number, size: number): number[][] {
  const out: number[][] = new Array(count);
  for (let i = 0; i < count; i++) out[i] = Array.from(output.subarray(i * size, (i + 1) * size));
  return out;
}
