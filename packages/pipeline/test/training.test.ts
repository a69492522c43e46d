import * as tf from '@tensorflow/tfjs';
import { type Dataset, loadDataset } from '@tuneserve/data';
import { initBackend, learningRateOf } from '@tuneserve/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  buildMlp,
  buildReport,
  type ClassificationMetrics,
  evaluateModel,
  exponentialDecay,
  findBestEpoch,
  fitModel,
  frontLabel,
  limitSamples,
  rankTrials,
  retrainEpochs,
  toTensors,
  trainFinalModel,
} from '../src/index.js';

const DIGIT_LABELS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
const digits = { task: 'classification' as const, labels: DIGIT_LABELS };
/** The reference system's fixed model: Dense(64, relu) -> Dense(10, softmax), rmsprop. */
const buildReferenceModel = () =>
  buildMlp({ units: [64], optimizer: 'rmsprop', inputShape: [784], head: { task: 'classification', classes: 10 } });

let data: Dataset;
beforeAll(async () => {
  await initBackend({ log: false });
  data = limitSamples(await loadDataset('mnist'), 1500);
});

describe('training and evaluation', () => {
  it('retrains for floor(1.2 x best epoch)', () => {
    expect([1, 5, 16, 100].map(retrainEpochs)).toEqual([1, 6, 19, 120]);
  });

  it('stops after `patience` epochs without a val_loss improvement and picks argmin + 1', async () => {
    const model = buildReferenceModel();
    // An absurd learning rate makes val_loss stop improving quickly.
    model.compile({ optimizer: tf.train.sgd(50), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const result = await findBestEpoch(model, data.train, data.val, {
      batchSize: 128,
      maxEpochs: 40,
      patience: 2,
    }).catch((e: Error) => e);
    model.dispose();
    if (result instanceof Error) {
      expect(result.message).toMatch(/NaN/); // diverged: reported, not silently used
      return;
    }
    const valLoss = result.history.val_loss ?? [];
    expect(result.epochsRun).toBeLessThan(40);
    expect(result.bestEpoch).toBe(valLoss.indexOf(Math.min(...valLoss)) + 1);
    expect(result.epochsRun - result.bestEpoch).toBe(2);
  });

  it('a schedule sets the rate before every epoch, in both phases and from the compiled rate each time', async () => {
    const seen: number[] = [];
    const built: tf.LayersModel[] = [];
    const build = () => {
      const model = buildReferenceModel();
      built.push(model);
      return model;
    };
    // Records the rate each epoch trained with (the schedule's callback runs before the listener's).
    const listener = { onEpochEnd: () => void seen.push(learningRateOf(built.at(-1)!.optimizer)) };
    const result = await trainFinalModel({
      build,
      data,
      batchSize: 128,
      fixedEpochs: 3,
      schedule: exponentialDecay(0.5),
      listener,
    });
    expect(seen.map((r) => r / 1e-3)).toEqual([1, 0.5, 0.25].map((r) => expect.closeTo(r, 6)));
    result.model.dispose();
    // 'continue' fits the searched model again: the schedule starts over from the compiled rate, not where it stopped.
    seen.length = 0;
    const continued = await trainFinalModel({
      build,
      data,
      batchSize: 128,
      maxEpochs: 2,
      patience: 5,
      retrain: 'continue',
      schedule: exponentialDecay(0.5),
      listener,
    });
    expect(seen.map((r) => r / 1e-3)).toEqual(
      [1, 0.5, ...[1, 0.5].slice(0, continued.retrainEpochs)].map((r) => expect.closeTo(r, 6)),
    );
    continued.model.dispose();
    expect(() => exponentialDecay(0)).toThrow(/per-epoch decay must be in \(0, 1\], got 0/);
    expect(() => exponentialDecay(1.5)).toThrow(RangeError);
  });

  it('evaluates like model.evaluate and builds a consistent confusion matrix', async () => {
    const model = buildReferenceModel();
    const history = await fitModel(model, data.trainFull(), { epochs: 2, batchSize: 128 });
    expect(history.loss).toHaveLength(2);
    const ev = evaluateModel(model, data.test, digits, 256) as ClassificationMetrics;
    const { x, y } = toTensors(data.test, [784]);
    const [loss, acc] = (model.evaluate(x, y, { batchSize: 256 }) as tf.Scalar[]).map((t) => t.dataSync()[0]!);
    tf.dispose([x, y]);
    model.dispose();
    expect(ev.loss).toBeCloseTo(loss!, 3);
    expect(ev.accuracy).toBeCloseTo(acc!, 5);
    expect(ev.accuracy).toBeGreaterThan(0.5);
    const total = ev.confusionMatrix.flat().reduce((a, b) => a + b, 0);
    const diagonal = ev.confusionMatrix.reduce((a, row, i) => a + (row[i] ?? 0), 0);
    expect(total).toBe(1500);
    expect(diagonal / total).toBeCloseTo(ev.accuracy, 10);
    const zeros = ev.confusionMatrix[0]!.reduce((a, b) => a + b, 0);
    expect(ev.perClass[0]!.recall).toBeCloseTo(ev.confusionMatrix[0]![0]! / zeros, 10);
  });

  it('ranks completed trials by the objective direction', () => {
    const trial = (trialId: string, status: string, score: number | null) => ({
      trialId,
      status: status as 'COMPLETED',
      score,
      hyperparameters: { units: 16 },
      bestStep: 0,
      startedAt: null,
      endedAt: null,
      durationMs: null,
      finalMetrics: {},
      metrics: {},
    });
    const study = {
      name: 's',
      tuner: 'RandomSearch',
      objective: { name: 'val_loss', direction: 'min' as const },
      maxTrials: 3,
      trials: [trial('0', 'COMPLETED', 0.3), trial('1', 'FAILED', null), trial('2', 'COMPLETED', 0.1)],
      importance: {},
    };
    const ranked = rankTrials(study);
    expect(ranked.map((r) => r.trialId)).toEqual(['2', '0']);
    expect(ranked[0]?.values).toEqual({ units: 16 });
    expect(rankTrials({ ...study, objective: { name: 'val_acc', direction: 'max' } }).map((r) => r.trialId)).toEqual([
      '0',
      '2',
    ]);
  });

  it('with several objectives, ranks the Pareto front: the best on each objective first (labelled), then the least crowded', () => {
    const trial = (trialId: string, values: [number, number] | null, status = 'COMPLETED') => ({
      trialId,
      status: status as 'COMPLETED',
      score: values?.[0] ?? null,
      values,
      hyperparameters: { units: Number(trialId) },
      bestStep: 0,
      startedAt: null,
      endedAt: null,
      durationMs: null,
      finalMetrics: {},
      metrics: {},
    });
    const study = {
      name: 's',
      tuner: 'NSGA2',
      importance: {},
      objective: { name: 'val_accuracy', direction: 'max' as const },
      objectives: [
        { name: 'val_accuracy', direction: 'max' as const },
        { name: 'latency_ms', direction: 'min' as const },
      ],
      maxTrials: 6,
      trials: [
        trial('0', [0.9, 1.0]), // front, middle
        trial('1', [0.97, 3.0]), // front: most accurate
        trial('2', [0.8, 0.2]), // front: fastest
        trial('3', [0.85, 2.0]), // dominated by 0
        trial('4', [0.95, 2.0]), // front, middle
        trial('5', [0.99, 0.1], 'FAILED'), // not completed
      ],
    };
    const ranked = rankTrials(study);
    expect(ranked.map((r) => [r.trialId, r.label])).toEqual([
      ['1', 'accurate'],
      ['2', 'fast'],
      // 0 and 4 are interior; crowding (sum of neighbour gaps over each range): 4 -> (0.97-0.9)/0.17 + (3-1)/2.8,
      // 0 -> (0.95-0.8)/0.17 + (2-0.2)/2.8, larger: 0 first.
      ['0', 'front_3'],
      ['4', 'front_4'],
    ]);
    expect(ranked[0]?.objectiveValues).toEqual([0.97, 3.0]);
    expect(frontLabel('model_size')).toBe('small');
    expect(frontLabel('val_loss')).toBe('accurate');
    expect(frontLabel('energy-J')).toBe('best_energy_J');
  });

  it('renders the report charts as SVG and the page as HTML', async () => {
    const confusion = DIGIT_LABELS.map((_, i) => DIGIT_LABELS.map((__, j) => (i === j ? 90 : 1)));
    const report = await buildReport({
      title: 'mnist version 3',
      objective: { name: 'val_accuracy', direction: 'max' },
      trials: [
        {
          trialId: '0',
          status: 'COMPLETED',
          score: 0.9,
          hyperparameters: { units: 16 },
          durationMs: 1000,
          metrics: {},
        },
        {
          trialId: '1',
          status: 'COMPLETED',
          score: 0.95,
          hyperparameters: { units: 64 },
          durationMs: 2000,
          metrics: {
            val_acc: [
              { step: 0, value: 0.9 },
              { step: 1, value: 0.95 },
            ],
          },
        },
      ],
      bestTrialId: '1',
      bestEpochHistory: { loss: [0.5, 0.3, 0.2], val_loss: [0.4, 0.3, 0.35] },
      bestEpoch: 2,
      retrainEpochs: 2,
      hyperparameters: { units: 64 },
      test: {
        task: 'classification',
        count: 1000,
        loss: 0.2,
        accuracy: 0.9,
        confusionMatrix: confusion,
        labels: DIGIT_LABELS,
        perClass: [],
      },
    });
    expect(Object.keys(report.files).sort()).toEqual([
      'best-epoch.svg',
      'best-trial-curves.svg',
      'confusion-matrix.svg',
      'parallel-coordinates.svg',
      'report.html',
      'trial-curves.svg',
      'trials.svg',
    ]);
    for (const [name, text] of Object.entries(report.files)) {
      if (name.endsWith('.svg')) expect(text.startsWith('<svg'), name).toBe(true);
    }
    expect(report.files['confusion-matrix.svg']).toContain('>90<');
    expect(report.files['report.html']).toContain('90.00%');
  });
});
