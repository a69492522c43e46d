/** Metrics against scikit-learn's values, the regression report, re-encoding data for a model, and seeded runs. */
import * as tf from '@tensorflow/tfjs';
import type { TabularInput } from '@tuneserve/client';
import { initBackend } from '@tuneserve/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type Augmentation,
  adaptSplit,
  buildMlp,
  buildReport,
  classificationMetrics,
  fitModel,
  ModelDataMismatchError,
  regressionMetrics,
  withSeed,
} from '../src/index.js';

beforeAll(async () => {
  await initBackend({ log: false });
});

/** One-hot "probabilities" of the predicted classes. */
function oneHot(predicted: number[], classes: number): Float32Array {
  const out = new Float32Array(predicted.length * classes);
  predicted.forEach((p, i) => {
    out[i * classes + p] = 1;
  });
  return out;
}

describe('metrics', () => {
  it('classification: accuracy, confusion matrix and per-class precision/recall/F1 as scikit-learn computes them', () => {
    const truth = [0, 0, 1, 1, 2, 2, 2];
    const predicted = [0, 1, 1, 1, 2, 0, 2];
    const m = classificationMetrics(oneHot(predicted, 3), Float32Array.from(truth), {
      task: 'classification',
      labels: ['cat', 'dog', 'owl'],
    });
    expect(m.accuracy).toBeCloseTo(5 / 7, 12);
    expect(m.confusionMatrix).toEqual([
      [1, 1, 0],
      [0, 2, 0],
      [1, 0, 2],
    ]);
    // sklearn.metrics.precision_recall_fscore_support(truth, predicted, zero_division=0)
    const expected = [
      { label: 'cat', precision: 0.5, recall: 0.5, f1: 0.5, support: 2 },
      { label: 'dog', precision: 2 / 3, recall: 1, f1: 0.8, support: 2 },
      { label: 'owl', precision: 1, recall: 2 / 3, f1: 0.8, support: 3 },
    ];
    m.perClass.forEach((c, i) => {
      const e = expected[i]!;
      expect(c.label).toBe(e.label);
      expect(c.precision).toBeCloseTo(e.precision, 12);
      expect(c.recall).toBeCloseTo(e.recall, 12);
      expect(c.f1).toBeCloseTo(e.f1, 12);
      expect(c.support).toBe(e.support);
    });
  });

  it('regression: MAE, RMSE and R² on the de-standardised target, as scikit-learn computes them', () => {
    // Target mean 10, std 2: standardised values s stand for 10 + 2 s.
    const actual = [3, 5, 7, 9];
    const predicted = [2.5, 5.5, 7, 10];
    const z = (v: number) => (v - 10) / 2;
    const m = regressionMetrics(Float32Array.from(predicted.map(z)), Float32Array.from(actual.map(z)), {
      task: 'regression',
      target: 'price',
      mean: 10,
      std: 2,
    });
    // sklearn: mean_absolute_error 0.5, sqrt(mean_squared_error) 0.6123724356957945, r2_score 0.925
    expect(m.mae).toBeCloseTo(0.5, 6);
    expect(m.rmse).toBeCloseTo(0.6123724356957945, 6);
    expect(m.r2).toBeCloseTo(0.925, 6);
    expect(Array.from(m.actual)).toEqual(actual);
    expect(m.loss).toBeCloseTo((0.25 + 0.25 + 0 + 1) / 4 / 4, 6); // MSE in standardised units
  });

  it('the regression report plots predicted against actual values', async () => {
    const m = regressionMetrics(Float32Array.from([0.1, -0.2, 0.3]), Float32Array.from([0, -0.25, 0.5]), {
      task: 'regression',
      target: 'price',
      mean: 100,
      std: 10,
    });
    const report = await buildReport({
      title: 'houses v1',
      trials: [],
      retrainEpochs: 3,
      hyperparameters: {},
      test: m,
    });
    expect(Object.keys(report.files).sort()).toEqual(['predicted-vs-actual.svg', 'report.html']);
    expect(report.files['predicted-vs-actual.svg']).toContain('predicted price');
    expect(report.files['report.html']).toMatch(
      /Test MAE <strong>[\d.]+<\/strong> · RMSE [\d.]+ · R² -?[\d.]+ \(price\)/,
    );
  });
});

describe('adaptSplit: data encoded by another fit of the same schema', () => {
  const dataInput: TabularInput = {
    kind: 'tabular',
    features: [
      { name: 'size', type: 'number', mean: 10, std: 2, min: 0, max: 20 },
      { name: 'colour', type: 'category', categories: ['blue', 'red'], other: false },
    ],
  };
  const modelInput: TabularInput = {
    kind: 'tabular',
    features: [
      { name: 'size', type: 'number', mean: 12, std: 4, min: 0, max: 20 },
      { name: 'colour', type: 'category', categories: ['red', 'green', 'blue'], other: true },
    ],
  };

  it('re-standardises numbers, matches one-hot columns by name and class indices by label', () => {
    // size 14 (z = 2 in the data's fit), colour red; size 8 (z = -1), colour blue.
    const split = { x: Float32Array.from([2, 0, 1, -1, 1, 0]), y: Float32Array.from([1, 0]), count: 2 };
    const out = adaptSplit(
      split,
      { input: dataInput, output: { task: 'classification', labels: ['no', 'yes'] } },
      { input: modelInput, output: { task: 'classification', labels: ['yes', 'no'] }, inputSize: 5 },
    );
    expect(Array.from(out.x)).toEqual([0.5, 1, 0, 0, 0, -1, 0, 0, 1, 0]);
    expect(Array.from(out.y)).toEqual([0, 1]);
  });

  it('names what does not fit: a missing column, another task, unknown classes, other image sizes', () => {
    const split = { x: new Float32Array(3), y: new Float32Array(1), count: 1 };
    const labels = { task: 'classification' as const, labels: ['a'] };
    expect(() =>
      adaptSplit(
        split,
        { input: { kind: 'tabular', features: dataInput.features.slice(1) }, output: labels },
        { input: modelInput, output: labels, inputSize: 5 },
      ),
    ).toThrow(/no column 'size'/);
    expect(() =>
      adaptSplit(
        split,
        { input: dataInput, output: { task: 'regression', target: 't', mean: 0, std: 1 } },
        { input: dataInput, output: labels, inputSize: 3 },
      ),
    ).toThrow(ModelDataMismatchError);
    expect(() =>
      adaptSplit(
        split,
        { input: dataInput, output: { task: 'classification', labels: ['a', 'b'] } },
        { input: dataInput, output: labels, inputSize: 3 },
      ),
    ).toThrow(/classes the model does not know: b/);
    const image = (width: number) =>
      ({ kind: 'image', width, height: 8, channels: 3, fit: 'fill', layout: 'hwc' }) as const;
    expect(() =>
      adaptSplit(split, { input: image(8), output: labels }, { input: image(16), output: labels, inputSize: 384 }),
    ).toThrow(/16x8 images with 3 channel\(s\), the data has 8x8/);
  });
});

describe('withSeed', () => {
  /** Jitters every value a little: draws from the `random` the pipeline hands it. */
  const jitter: Augmentation = {
    description: 'jitter',
    apply(src, srcAt, dst, dstAt, random) {
      for (let i = 0; i < 4; i++) dst[dstAt + i] = (src[srcAt + i] as number) + (random() - 0.5) * 0.2;
    },
  };

  async function run(seed: number | undefined, augmentation?: Augmentation): Promise<number[]> {
    return withSeed(seed, async () => {
      const model = buildMlp({
        units: [16],
        dropout: 0.3,
        optimizer: 'adam',
        inputShape: [4],
        head: { task: 'classification', classes: 3 },
      });
      const x = Float32Array.from({ length: 400 }, (_, i) => Math.sin(i));
      const y = Float32Array.from({ length: 100 }, (_, i) => i % 3);
      const history = await fitModel(
        model,
        { x, y, count: 100 },
        { epochs: 3, batchSize: 16, ...(augmentation ? { augmentation } : {}) },
      );
      const weights = Array.from(model.getWeights()[0]!.dataSync());
      model.dispose();
      return [...(history.loss ?? []), ...weights];
    });
  }

  it('makes initial weights, shuffles and dropout reproducible, and restores Math.random', async () => {
    const original = Math.random;
    const a = await run(5);
    const b = await run(5);
    const c = await run(6);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(Math.random).toBe(original);
    expect(await run(undefined)).not.toEqual(await run(undefined));
    tf.disposeVariables();
  });

  it('makes augmentation reproducible too', async () => {
    const a = await run(5, jitter);
    expect(await run(5, jitter)).toEqual(a);
    expect(await run(6, jitter)).not.toEqual(a);
    expect(await run(undefined, jitter)).not.toEqual(await run(undefined, jitter));
    tf.disposeVariables();
  });
});
