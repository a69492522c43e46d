/** Runs a model over a split in batches and scores its outputs (metrics.ts). */
import * as tf from '@tensorflow/tfjs';
import type { OutputSchema } from '@tuneserve/client';
import type { Split } from './dataset.js';
import { ModelDataMismatchError } from './errors.js';
import { classificationMetrics, type Evaluation, regressionMetrics } from './metrics.js';
import { modelInputShape } from './tensors.js';

/** The model's outputs for every example of `split`, concatenated (count x output width). */
export function predictSplit(model: tf.LayersModel, split: Split, batchSize = 1000): Float32Array {
  const shape = modelInputShape(model);
  const size = shape.reduce((a, b) => a * b, 1);
  if (split.count > 0 && split.x.length !== split.count * size) {
    throw new ModelDataMismatchError(
      `the model takes ${shape.join('x')} = ${size} values per example but the data has ${split.x.length / split.count}`,
    );
  }
  const parts: Float32Array[] = [];
  for (let start = 0; start < split.count; start += batchSize) {
    const n = Math.min(batchSize, split.count - start);
    parts.push(
      tf.tidy(() => {
        const x = tf.tensor(split.x.subarray(start * size, (start + n) * size), [n, ...shape]);
        return (model.predict(x) as tf.Tensor).dataSync() as Float32Array;
      }),
    );
  }
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Test metrics of `model` on `split` for its task: accuracy & co for classification, MAE/RMSE/R² for regression. */
export function evaluateModel(model: tf.LayersModel, split: Split, output: OutputSchema, batchSize = 1000): Evaluation {
  const width = Number(model.outputs[0]?.shape.at(-1) ?? 1);
  const expected = output.task === 'classification' ? output.labels.length : 1;
  if (width !== expected) {
    throw new ModelDataMismatchError(
      `the model has ${width} outputs but the data's ${output.task === 'classification' ? `${expected} classes need ${expected}` : 'regression target needs 1'}`,
    );
  }
  const outputs = predictSplit(model, split, batchSize);
  return output.task === 'classification'
    ? classificationMetrics(outputs, split.y, output)
    : regressionMetrics(outputs, split.y, output);
}
