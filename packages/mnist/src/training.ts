/**
 * The reference's post-tuning steps: find the best epoch with early stopping on val_loss, retrain a fresh model
 * on train+val for floor(1.2 x best epoch) epochs, and evaluate on the test set.
 */
import * as tf from '@tensorflow/tfjs';
import { shiftedBatches } from './augment.js';
import type { Split } from './data.js';
import { toTensors } from './tensors.js';

export type Phase = 'best-epoch' | 'retrain' | 'train';

/** Progress of a fit, for bars and log lines. Epochs count from 1. */
export interface FitListener {
  onEpochBegin?(phase: Phase, epoch: number, maxEpochs: number): void;
  onBatchEnd?(phase: Phase, epoch: number, batch: number, batchesPerEpoch: number): void;
  onEpochEnd?(phase: Phase, epoch: number, maxEpochs: number, logs: Record<string, number>): void;
}

export type History = Record<string, number[]>;

export interface FitSettings {
  epochs: number;
  batchSize: number;
  listener?: FitListener;
  phase?: Phase;
  validation?: Split;
  /** Stop when val_loss has not improved for this many epochs (needs validation). */
  patience?: number;
  /** Train on images shifted by up to this many pixels, drawn afresh every epoch (0 or unset: as they are). */
  augmentShift?: number;
}

/** Trains `model` on `split`; returns the per-epoch history (loss, acc, val_loss, val_acc). */
export async function fitModel(model: tf.LayersModel, split: Split, s: FitSettings): Promise<History> {
  const phase = s.phase ?? 'train';
  const shift = s.augmentShift ?? 0;
  // Augmented training reads batches from a dataset built on the raw arrays; only plain training needs x/y tensors.
  const train = shift > 0 ? undefined : fitTensors(split);
  const val = s.validation ? fitTensors(s.validation) : undefined;
  const batchesPerEpoch = Math.ceil(split.count / s.batchSize);
  let best = Number.POSITIVE_INFINITY;
  let wait = 0;
  let epochNow = 0;
  try {
    const callbacks: tf.CustomCallbackArgs = {
      onEpochBegin: async (epoch) => {
        epochNow = epoch + 1;
        s.listener?.onEpochBegin?.(phase, epochNow, s.epochs);
      },
      onBatchEnd: async (batch) => {
        s.listener?.onBatchEnd?.(phase, epochNow, batch + 1, batchesPerEpoch);
      },
      onEpochEnd: async (epoch, logs) => {
        const numeric = Object.fromEntries(Object.entries(logs ?? {}).map(([k, v]) => [k, Number(v)]));
        s.listener?.onEpochEnd?.(phase, epoch + 1, s.epochs, numeric);
        if (s.patience === undefined) return;
        const valLoss = numeric.val_loss;
        if (valLoss === undefined) throw new Error('early stopping needs validation data');
        // Keras EarlyStopping semantics (min mode, min_delta 0): stop after `patience` epochs without improvement.
        if (valLoss < best) {
          best = valLoss;
          wait = 0;
        } else if (++wait >= s.patience) {
          model.stopTraining = true;
        }
      },
    };
    const common = {
      epochs: s.epochs,
      verbose: 0 as const,
      ...(val ? { validationData: [val.x, val.y] as [tf.Tensor, tf.Tensor] } : {}),
      callbacks,
    };
    const result = train
      ? await model.fit(train.x, train.y, { ...common, batchSize: s.batchSize, shuffle: true })
      : await model.fitDataset(
          shiftedBatches({
            images: split.images,
            labels: Float32Array.from(split.labels),
            count: split.count,
            rows: split.rows,
            cols: split.cols,
            batchSize: s.batchSize,
            maxShift: shift,
          }),
          { ...common, validationBatchSize: s.batchSize },
        );
    const history: History = {};
    for (const [key, values] of Object.entries(result.history)) history[key] = values.map(Number);
    return history;
  } finally {
    tf.dispose([...(train ? [train.x, train.y] : []), ...(val ? [val.x, val.y] : [])]);
  }
}

/** TF.js's sparse categorical crossentropy floors its targets and so needs float32 labels. */
function fitTensors(split: Split): { x: tf.Tensor2D; y: tf.Tensor1D } {
  const { x, y } = toTensors(split);
  const yFloat = y.toFloat();
  y.dispose();
  return { x, y: yFloat };
}

export interface BestEpochResult {
  /** 1-based epoch with the lowest val_loss. */
  bestEpoch: number;
  epochsRun: number;
  history: History;
}

/** The reference's get_best_epoch: fit up to maxEpochs with early stopping on val_loss and return argmin + 1. */
export async function findBestEpoch(
  model: tf.LayersModel,
  train: Split,
  val: Split,
  o: { maxEpochs?: number; patience?: number; batchSize: number; augmentShift?: number; listener?: FitListener },
): Promise<BestEpochResult> {
  const history = await fitModel(model, train, {
    epochs: o.maxEpochs ?? 100,
    batchSize: o.batchSize,
    ...(o.augmentShift ? { augmentShift: o.augmentShift } : {}),
    patience: o.patience ?? 10,
    validation: val,
    phase: 'best-epoch',
    ...(o.listener ? { listener: o.listener } : {}),
  });
  const valLoss = history.val_loss ?? [];
  if (valLoss.length === 0) throw new Error('the best-epoch search ran no epoch');
  if (valLoss.some((v) => !Number.isFinite(v))) throw new Error('val_loss became NaN or infinite during training');
  const bestEpoch = valLoss.indexOf(Math.min(...valLoss)) + 1;
  return { bestEpoch, epochsRun: valLoss.length, history };
}

/** floor(1.2 x best epoch), at least 1: the reference trains slightly past the best epoch on the larger set. */
export function retrainEpochs(bestEpoch: number): number {
  return Math.max(1, Math.floor(bestEpoch * 1.2));
}

export interface Evaluation {
  count: number;
  loss: number;
  accuracy: number;
  /** confusionMatrix[true][predicted]. */
  confusionMatrix: number[][];
  perClass: { label: string; precision: number; recall: number }[];
}

/** Test loss (sparse categorical crossentropy, Keras' 1e-7 clipping), accuracy, per-class precision/recall. */
export function evaluateModel(model: tf.LayersModel, split: Split, labels?: string[], batchSize = 1000): Evaluation {
  const size = split.rows * split.cols;
  const outputShape = model.outputs[0]?.shape;
  const classes = Number(outputShape?.[outputShape.length - 1] ?? 10);
  const names = labels ?? Array.from({ length: classes }, (_, i) => String(i));
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  let lossSum = 0;
  let correct = 0;
  for (let start = 0; start < split.count; start += batchSize) {
    const n = Math.min(batchSize, split.count - start);
    const probs = tf.tidy(() => {
      const x = tf.tensor2d(split.images.subarray(start * size, (start + n) * size), [n, size]);
      return (model.predict(x) as tf.Tensor).dataSync() as Float32Array;
    });
    for (let i = 0; i < n; i++) {
      const truth = split.labels[start + i]!;
      const row = probs.subarray(i * classes, (i + 1) * classes);
      let predicted = 0;
      for (let c = 1; c < classes; c++) if (row[c]! > row[predicted]!) predicted = c;
      const p = Math.min(Math.max(row[truth] ?? 0, 1e-7), 1 - 1e-7);
      lossSum -= Math.log(p);
      if (predicted === truth) correct++;
      const confusionRow = confusion[truth];
      if (confusionRow) confusionRow[predicted]!++;
    }
  }
  const perClass = names.map((label, c) => {
    const tp = confusion[c]?.[c] ?? 0;
    const actual = confusion[c]?.reduce((a, b) => a + b, 0) ?? 0;
    const predicted = confusion.reduce((a, row) => a + (row[c] ?? 0), 0);
    return { label, precision: predicted ? tp / predicted : 0, recall: actual ? tp / actual : 0 };
  });
  return {
    count: split.count,
    loss: lossSum / split.count,
    accuracy: correct / split.count,
    confusionMatrix: confusion,
    perClass,
  };
}
