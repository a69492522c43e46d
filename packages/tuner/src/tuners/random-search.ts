/** Random search (Keras Tuner's RandomSearch): its oracle and its tuner. */
import { Oracle, type OracleContext, type OracleOptions, type PopulateResult } from '../engine/oracle.js';
import { Tuner, type TunerOptions } from '../engine/tuner.js';
import type { BuildFn, HyperModel } from '../hypermodel.js';

/** Random search: independent draws, no duplicates; stops when no unseen value is found in 20 draws. */
export class RandomSearchOracle extends Oracle {
  constructor(options: OracleOptions = {}) {
    super({ ...options, maxTrials: options.maxTrials === undefined ? 10 : options.maxTrials });
  }

  protected populateSpace(_trialId: string, ctx: OracleContext): PopulateResult {
    const values = this.randomValues(ctx);
    return values ? { status: 'RUNNING', values } : { status: 'STOPPED' };
  }
}

/** Random search (default maxTrials 10). */
export class RandomSearch extends Tuner {
  constructor(hypermodel: HyperModel | BuildFn | null, options: TunerOptions = {}) {
    super(hypermodel, { ...options, oracle: new RandomSearchOracle(options) });
  }
}
