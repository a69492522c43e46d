/**
 * The reference's post-tuning steps over any data set: find the best epoch with early stopping on val_loss, retrain
 * a fresh model on train+val for floor(1.2 x best epoch) epochs.
 */
import * as tf from '@tensorflow/tfjs';
import { type Augmentation, augmentedBatches } from './augment.js';
import type { Split } from './dataset.js';
import { type LearningRateSchedule, scheduleCallback } from './schedule.js';
import { modelInputShape, toTensors } from './tensors.js';

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
  /** Train on transformed examples, drawn afresh every epoch (unset: as they are). */
  augmentation?: Augmentation;
  /** The learning rate per epoch (unset: the compiled rate throughout). */
  schedule?: LearningRateSchedule;
}

/** Trains `model` on `split`; returns the per-epoch history (loss, acc, val_loss, val_acc, ...). */
export async function fitModel(model: tf.LayersModel, split: Split, s: FitSettings): Promise<History> {
  const phase = s.phase ?? 'train';
  if (s.patience !== undefined && !s.validation) throw new Error('early stopping needs validation data');
  const shape = modelInputShape(model);
  // Augmented training reads batches built from the raw arrays; only plain training needs x/y tensors.
  const train = s.augmentation ? undefined : toTensors(split, shape);
  const val = s.validation ? toTensors(s.validation, shape) : undefined;
  const batchesPerEpoch = Math.ceil(split.count / s.batchSize);
  let epochNow = 0;
  try {
    const progress: tf.CustomCallbackArgs = {
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
      },
    };
    // TF.js's EarlyStopping (Keras semantics: val_loss, min mode, min_delta 0) after the progress callback.
    const callbacks = [
      ...(s.schedule ? [scheduleCallback(model, s.schedule)] : []),
      new tf.CustomCallback(progress),
      ...(s.patience === undefined ? [] : [tf.callbacks.earlyStopping({ monitor: 'val_loss', patience: s.patience })]),
    ];
    const common = {
      epochs: s.epochs,
      verbose: 0 as const,
      ...(val ? { validationData: [val.x, val.y] as [tf.Tensor, tf.Tensor] } : {}),
      callbacks,
    };
    const result = train
      ? await model.fit(train.x, train.y, { ...common, batchSize: s.batchSize, shuffle: true })
      : await model.fitDataset(
          augmentedBatches({
            x: split.x,
            y: split.y,
            count: split.count,
            exampleShape: shape,
            batchSize: s.batchSize,
            augmentation: s.augmentation as Augmentation,
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
  o: {
    maxEpochs?: number;
    patience?: number;
    batchSize: number;
    augmentation?: Augmentation;
    schedule?: LearningRateSchedule;
    listener?: FitListener;
  },
): Promise<BestEpochResult> {
  const history = await fitModel(model, train, {
    epochs: o.maxEpochs ?? 100,
    batchSize: o.batchSize,
    ...(o.augmentation ? { augmentation: o.augmentation } : {}),
    ...(o.schedule ? { schedule: o.schedule } : {}),
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
