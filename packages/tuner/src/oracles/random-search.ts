import { Oracle, type OracleContext, type OracleOptions, type PopulateResult } from '../oracle.js';

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
