/**
 * What a model's output means, per example: class names with scores (best first, `top_k` of them)
 * for classifiers, the de-standardised value for regressors. Used by the labelled predict route, TF
 * Serving's classify/regress and KServe v2's extra outputs.
 */
import type { LabelledPrediction, OutputSchema, ScoredLabel } from '@tuneserve/client';
import { parseInteger } from '@tuneserve/runtime';
import { InvalidInputError } from './errors.js';

/** Reads a top_k parameter (query string, body or KServe parameters): an integer >= 1, capped at the class count. */
export function readTopK(value: unknown, where: string): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === 'string' ? (parseInteger(value) ?? value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1)
    throw new InvalidInputError(`${where} must be an integer >= 1, got ${JSON.stringify(value)}`);
  return n;
}

/** The classes of one example's scores, best first, at most `k`. */
export function ranked(scores: Float32Array, labels: readonly string[], k: number): ScoredLabel[] {
  const order = Array.from(scores.keys()).sort((a, b) => (scores[b] ?? 0) - (scores[a] ?? 0));
  return order.slice(0, k).map((i) => ({ label: labels[i] ?? String(i), score: scores[i] ?? 0 }));
}

/** De-standardises a regression output (the model predicts the standardised target). */
export const regressionValue = (output: { mean: number; std: number }, raw: number): number =>
  raw * output.std + output.mean;

/** A batch's output in the target's units (regression), or as it is (classification). */
export function inTargetUnits(schema: OutputSchema, out: Float32Array): Float32Array {
  if (schema.task !== 'regression') return out;
  return out.map((v) => regressionValue(schema, v));
}

/** One answer per example of a batch's output. Default top_k: 5 classes (all when fewer). */
export function answers(schema: OutputSchema, out: Float32Array, count: number, topK = 5): LabelledPrediction[] {
  const size = out.length / count;
  const result: LabelledPrediction[] = [];
  for (let r = 0; r < count; r++) {
    const row = out.subarray(r * size, (r + 1) * size);
    if (schema.task === 'regression') {
      result.push({ value: regressionValue(schema, row[0] ?? Number.NaN) });
      continue;
    }
    const top = ranked(row, schema.labels, Math.min(topK, size));
    const best = top[0] ?? { label: '', score: 0 };
    result.push({ label: best.label, score: best.score, top_k: top });
  }
  return result;
}

/**
 * Triton's classification extension of the v2 protocol: a requested output with parameter
 * `classification: k` is answered as BYTES, k strings "score:index:label" per example, best first
 * (what tritonclient's `InferRequestedOutput(name, class_count=k)` reads).
 */
export function classificationStrings(schema: OutputSchema, out: Float32Array, count: number, k: unknown): string[] {
  if (schema.task !== 'classification')
    throw new InvalidInputError('the classification parameter needs a classifier; this model is a regressor');
  const top = readTopK(k, 'outputs[0].parameters.classification') ?? 1;
  const size = out.length / count;
  const strings: string[] = [];
  for (let r = 0; r < count; r++) {
    const row = out.subarray(r * size, (r + 1) * size);
    for (const c of ranked(row, schema.labels, Math.min(top, size)))
      strings.push(`${c.score}:${schema.labels.indexOf(c.label)}:${c.label}`);
  }
  return strings;
}
