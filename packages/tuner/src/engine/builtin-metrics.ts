/**
 * Metrics the tuner measures itself when the objective names them, so a search can trade accuracy
 * against what serving the model costs: `model_size` (parameters), `model_bytes` (bytes of the
 * weights) and `latency_ms` (median time of one batch-1 prediction on this machine, through the
 * path the server would take: runtime's `measureLatency`).
 */
import type * as tf from '@tensorflow/tfjs';
import { measureLatency } from '@tuneserve/runtime';
import { FailedTrialError } from '../errors.js';
import { type Objective, paretoObjectives } from '../objective.js';

export const BUILTIN_METRICS = ['model_size', 'model_bytes', 'latency_ms'] as const;
export type BuiltinMetric = (typeof BUILTIN_METRICS)[number];

/** The built-in metrics among the objective's names. */
export function builtinMetricsOf(objective: Objective): BuiltinMetric[] {
  const names = (paretoObjectives(objective) ?? [objective]).map((o) => o.name);
  return BUILTIN_METRICS.filter((m) => names.includes(m));
}

/** Measures the named metrics of a built model (its weights' values do not matter). */
export function measureBuiltinMetrics(
  model: tf.LayersModel,
  names: readonly BuiltinMetric[],
  latencyRuns = 30,
): Partial<Record<BuiltinMetric, number>> {
  const out: Partial<Record<BuiltinMetric, number>> = {};
  if (names.includes('model_size')) out.model_size = model.countParams();
  if (names.includes('model_bytes')) {
    out.model_bytes = model.weights.reduce((sum, w) => sum + w.read().size * bytesOf(w.dtype), 0);
  }
  if (names.includes('latency_ms')) {
    try {
      out.latency_ms = measureLatency(model, { runs: latencyRuns }).medianMs;
    } catch (err) {
      throw new FailedTrialError(`latency_ms cannot be measured: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return out;
}

function bytesOf(dtype: string): number {
  return dtype === 'bool' ? 1 : dtype === 'complex64' ? 8 : 4;
}
