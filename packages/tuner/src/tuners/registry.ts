/**
 * The tuners by name, typed: `createTuner('hyperband', hypermodel, { maxEpochs: 9 })` checks the
 * options of that tuner at compile time. A new algorithm is one file in this folder plus one line here.
 */
import type { Tuner, TunerOptions } from '../engine/tuner.js';
import type { BuildFn, HyperModel } from '../hypermodel.js';
import { BayesianOptimization, type BayesianOptimizationOptions } from './bayesian.js';
import { GridSearch } from './grid-search.js';
import { Hyperband, type HyperbandOptions } from './hyperband.js';
import { NSGA2, type NSGA2Options } from './nsga2.js';
import { RandomSearch } from './random-search.js';
import { TPE, type TPEOptions } from './tpe.js';

/** Each tuner's options by name. */
export interface TunerOptionsByKind {
  random: TunerOptions;
  grid: TunerOptions;
  bayesian: TunerOptions & BayesianOptimizationOptions;
  hyperband: TunerOptions & HyperbandOptions;
  nsga2: TunerOptions & NSGA2Options;
  tpe: TunerOptions & TPEOptions;
}

export type TunerKind = keyof TunerOptionsByKind;

type TunerConstructors = {
  [K in TunerKind]: new (
    hypermodel: HyperModel | BuildFn | null,
    options: TunerOptionsByKind[K],
  ) => Tuner;
};

/** The tuner classes by name. */
export const TUNERS: Readonly<TunerConstructors> = {
  random: RandomSearch,
  grid: GridSearch,
  bayesian: BayesianOptimization,
  hyperband: Hyperband,
  nsga2: NSGA2,
  tpe: TPE,
};

/** The names of the tuners, in a stable order (for CLI choices). */
export const TUNER_KINDS = Object.keys(TUNERS) as TunerKind[];

export function isTunerKind(name: string): name is TunerKind {
  return Object.hasOwn(TUNERS, name);
}

/** A new tuner of the given kind. */
export function createTuner<K extends TunerKind>(
  kind: K,
  hypermodel: HyperModel | BuildFn | null,
  options: TunerOptionsByKind[K],
): Tuner {
  const Cls = TUNERS[kind] as new (hypermodel: HyperModel | BuildFn | null, options: TunerOptionsByKind[K]) => Tuner;
  return new Cls(hypermodel, options);
}
