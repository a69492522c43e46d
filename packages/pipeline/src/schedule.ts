/**
 * Learning-rate schedules: a rate per epoch, as Keras's LearningRateScheduler applies one. A space declares a schedule
 * for a configuration (like its augmentation), so tuning, the best-epoch search and the retrain follow the same one.
 */
import * as tf from '@tensorflow/tfjs';
import { learningRateOf, setLearningRate } from '@tuneserve/runtime';

export interface LearningRateSchedule {
  /** Recorded in the model's metadata and printed by `train`. */
  readonly description: string;
  /** The rate of 0-based `epoch`, given the rate the model was compiled with. */
  rate(epoch: number, initial: number): number;
}

/** The compiled rate times `perEpoch` to the power of the epoch: a steady decay towards fine steps. */
export function exponentialDecay(perEpoch: number): LearningRateSchedule {
  if (!(perEpoch > 0 && perEpoch <= 1)) throw new RangeError(`per-epoch decay must be in (0, 1], got ${perEpoch}`);
  return {
    description: `learning rate x${perEpoch} per epoch`,
    rate: (epoch, initial) => initial * perEpoch ** epoch,
  };
}

// The compiled rate of each optimizer, so a second fit of the same model (retrain 'continue') starts the schedule
// from it rather than from wherever the first fit left the rate.
const compiledRates = new WeakMap<tf.Optimizer, number>();

/** A callback that sets the model's rate at the start of every epoch of one fit. */
export function scheduleCallback(model: tf.LayersModel, schedule: LearningRateSchedule): tf.CustomCallback {
  return new tf.CustomCallback({
    onEpochBegin: async (epoch) => {
      const optimizer = model.optimizer;
      let initial = compiledRates.get(optimizer);
      if (initial === undefined) {
        initial = learningRateOf(optimizer);
        compiledRates.set(optimizer, initial);
      }
      setLearningRate(optimizer, schedule.rate(epoch, initial));
    },
  });
}
