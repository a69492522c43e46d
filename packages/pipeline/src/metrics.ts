/**
 * Test-set metrics, computed from the model's outputs the way scikit-learn defines them: accuracy, per-class
 * precision / recall / F1 (0 where undefined, sklearn's `zero_division=0`) and the confusion matrix for
 * classification; MAE, RMSE and R² on the de-standardised target for regression.
 */
import type { ClassificationOutput, RegressionOutput } from '@tuneserve/client';

export interface ClassMetrics {
  label: string;
  precision: number;
  recall: number;
  f1: number;
  /** Test examples of this class. */
  support: number;
}

export interface ClassificationMetrics {
  task: 'classification';
  count: number;
  /** Sparse categorical crossentropy with Keras' 1e-7 clipping. */
  loss: number;
  accuracy: number;
  /** confusionMatrix[true][predicted], in the order of `labels`. */
  confusionMatrix: number[][];
  labels: string[];
  perClass: ClassMetrics[];
}

export interface RegressionMetrics {
  task: 'regression';
  /** The target's name. */
  target: string;
  count: number;
  /** Mean squared error on the standardised target (what training minimises). */
  loss: number;
  mae: number;
  rmse: number;
  /** 1 - SS_res / SS_tot; 0 for a constant target predicted exactly, as sklearn's r2_score. */
  r2: number;
  /** De-standardised actual and predicted values (for the predicted-vs-actual plot). */
  actual: Float64Array;
  predicted: Float64Array;
}

export type Evaluation = ClassificationMetrics | RegressionMetrics;

/** Metrics of class probabilities `probs` (count x classes, row-major) against class indices `truth`. */
export function classificationMetrics(
  probs: Float32Array,
  truth: Float32Array,
  output: ClassificationOutput,
): ClassificationMetrics {
  const classes = output.labels.length;
  const count = truth.length;
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  let lossSum = 0;
  let correct = 0;
  for (let i = 0; i < count; i++) {
    const actual = truth[i] as number;
    let predicted = 0;
    for (let c = 1; c < classes; c++) if (probs[i * classes + c]! > probs[i * classes + predicted]!) predicted = c;
    const p = Math.min(Math.max(probs[i * classes + actual] ?? 0, 1e-7), 1 - 1e-7);
    lossSum -= Math.log(p);
    if (predicted === actual) correct++;
    const row = confusion[actual];
    if (row) row[predicted]!++;
  }
  const perClass = output.labels.map((label, c) => {
    const tp = confusion[c]?.[c] ?? 0;
    const support = confusion[c]?.reduce((a, b) => a + b, 0) ?? 0;
    const predictedCount = confusion.reduce((a, row) => a + (row[c] ?? 0), 0);
    const precision = predictedCount ? tp / predictedCount : 0;
    const recall = support ? tp / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    return { label, precision, recall, f1, support };
  });
  return {
    task: 'classification',
    count,
    loss: count ? lossSum / count : Number.NaN,
    accuracy: count ? correct / count : Number.NaN,
    confusionMatrix: confusion,
    labels: [...output.labels],
    perClass,
  };
}

/** Metrics of standardised predictions against standardised targets, reported in the target's own units. */
export function regressionMetrics(
  predictions: Float32Array,
  truth: Float32Array,
  output: RegressionOutput,
): RegressionMetrics {
  const count = truth.length;
  const actual = new Float64Array(count);
  const predicted = new Float64Array(count);
  let squaredStd = 0;
  let mean = 0;
  for (let i = 0; i < count; i++) {
    const d = (predictions[i] as number) - (truth[i] as number);
    squaredStd += d * d;
    actual[i] = (truth[i] as number) * output.std + output.mean;
    predicted[i] = (predictions[i] as number) * output.std + output.mean;
    mean += actual[i] as number;
  }
  mean /= count || 1;
  let absolute = 0;
  let squared = 0;
  let total = 0;
  for (let i = 0; i < count; i++) {
    const d = (predicted[i] as number) - (actual[i] as number);
    absolute += Math.abs(d);
    squared += d * d;
    total += ((actual[i] as number) - mean) ** 2;
  }
  return {
    task: 'regression',
    target: output.target,
    count,
    loss: count ? squaredStd / count : Number.NaN,
    mae: count ? absolute / count : Number.NaN,
    rmse: count ? Math.sqrt(squared / count) : Number.NaN,
    r2: total > 0 ? 1 - squared / total : squared === 0 ? 1 : 0,
    actual,
    predicted,
  };
}

/** The metrics as stored in metadata.json (`testMetrics`) and printed by `evaluate --json`: no per-example arrays. */
export function metricsSummary(e: Evaluation): Record<string, unknown> {
  if (e.task === 'classification') return { ...e };
  const { actual: _a, predicted: _p, ...rest } = e;
  return rest;
}
