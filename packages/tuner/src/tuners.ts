/** The concrete tuners built on the core oracles. */
import type { BuildFn, HyperModel } from './hypermodel.js';
import { GridSearchOracle } from './oracles/grid-search.js';
import { RandomSearchOracle } from './oracles/random-search.js';
import { Tuner, type TunerOptions } from './tuner.js';

/** Random search (default maxTrials 10). */
export class RandomSearch extends Tuner {
  constructor(hypermodel: HyperModel | BuildFn | null, options: TunerOptions = {}) {
    super(hypermodel, { ...options, oracle: new RandomSearchOracle(options) });
  }
}

/** Grid search over every combination in Keras Tuner's order (maxTrials optional). */
export class GridSearch extends Tuner {
  constructor(hypermodel: HyperModel | BuildFn | null, options: TunerOptions = {}) {
    super(hypermodel, { ...options, oracle: new GridSearchOracle(options) });
  }
}
