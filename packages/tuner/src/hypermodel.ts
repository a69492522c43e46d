/** HyperModel: builds (and optionally fits) a model for a set of hyperparameters. */
import type * as tf from '@tensorflow/tfjs';
import type { HyperParameters } from './hyperparameters/index.js';
import type { TrialResult } from './trial.js';

export type BuildFn = (hp: HyperParameters) => tf.LayersModel | Promise<tf.LayersModel>;
export type FitInput = tf.Tensor | tf.Tensor[] | { [name: string]: tf.Tensor };

export interface HyperModelOptions {
  name?: string;
  /** false: build() sees a copy of the hyperparameters, so what it declares is not tuned. */
  tunable?: boolean;
}

/**
 * Subclass and override `build(hp)`. Override `fit(hp, model, x, y, args)` to tune training
 * itself (batch size, epochs): it may return the History (default), a number (the objective) or a
 * metrics record. `declareHyperparameters(hp)` may declare hyperparameters up front.
 */
export class HyperModel {
  readonly name: string | undefined;
  readonly tunable: boolean;

  constructor(options: HyperModelOptions = {}) {
    this.name = options.name;
    this.tunable = options.tunable ?? true;
  }

  build(_hp: HyperParameters): tf.LayersModel | Promise<tf.LayersModel> {
    throw new Error(`${this.constructor.name}.build(hp) is not implemented; override it in your HyperModel subclass.`);
  }

  fit(
    _hp: HyperParameters,
    model: tf.LayersModel,
    x: FitInput,
    y: FitInput,
    args: tf.ModelFitArgs,
  ): Promise<tf.History | TrialResult> {
    return model.fit(x, y, args);
  }

  declareHyperparameters(_hp: HyperParameters): void {}
}

/** Wraps a plain build function (Keras Tuner's DefaultHyperModel). */
export class FunctionHyperModel extends HyperModel {
  constructor(private readonly buildFn: BuildFn) {
    super();
  }

  override build(hp: HyperParameters): tf.LayersModel | Promise<tf.LayersModel> {
    return this.buildFn(hp);
  }
}

export function toHyperModel(input: HyperModel | BuildFn | null | undefined): HyperModel | null {
  if (input === null || input === undefined) return null;
  if (input instanceof HyperModel) return input;
  if (typeof input === 'function') return new FunctionHyperModel(input);
  throw new TypeError('hypermodel must be a build function, a HyperModel instance or null.');
}
