/** Grid search (Keras Tuner's GridSearch): its oracle, its tuner and the grid helpers. */
import { Oracle, type OracleContext, type OracleOptions, type PopulateResult } from '../engine/oracle.js';
import { Tuner, type TunerOptions } from '../engine/tuner.js';
import { valuesHash } from '../hash.js';
import type { BuildFn, HyperModel } from '../hypermodel.js';
import type { HpValue, HyperParameter, HyperParameters } from '../hyperparameters/index.js';
import type { HpValues } from '../trial.js';

/**
 * Grid search in Keras Tuner's order: the first trial uses every default, then the LAST
 * hyperparameter of the space moves fastest (odometer), each one visiting its default first.
 * The last combination handed out is persisted in the oracle state, so a resumed or parallel
 * search continues where the study stands (Keras Tuner's resume KeyError #1055 cannot happen).
 */
export class GridSearchOracle extends Oracle {
  constructor(options: OracleOptions = {}) {
    super({ ...options, maxTrials: options.maxTrials ?? null });
  }

  protected populateSpace(_trialId: string, ctx: OracleContext): PopulateResult {
    const tried = new Set(ctx.trials.map((t) => valuesHash(t.hyperparameters.values)));
    const last = ctx.state.gridLast as HpValues | undefined;
    let candidate: HpValues | null = last ? nextCombination(ctx.hyperparameters, last) : defaults(ctx.hyperparameters);
    while (candidate !== null && tried.has(valuesHash(candidate))) {
      candidate = nextCombination(ctx.hyperparameters, candidate);
    }
    if (candidate === null) return { status: 'STOPPED' };
    ctx.state.gridLast = candidate;
    return { status: 'RUNNING', values: candidate };
  }
}

function defaults(space: HyperParameters): HpValues {
  const hp = space.copy();
  hp.values = {};
  hp.ensureActiveValues();
  return hp.values;
}

/** Default first, then the other grid values in their natural order. */
function orderedValues(h: HyperParameter): HpValue[] {
  return [h.default, ...h.gridValues().filter((v) => v !== h.default)];
}

/** The combination after `values`, or null when the grid is exhausted. */
export function nextCombination(space: HyperParameters, values: HpValues): HpValues | null {
  const hp = space.copy();
  hp.values = { ...values };
  hp.ensureActiveValues();
  for (let i = hp.space.length - 1; i >= 0; i--) {
    const h = hp.space[i];
    if (!h) continue;
    if (hp.isActive(h)) {
      const list = orderedValues(h);
      const current = hp.values[h.name] as HpValue;
      const index = list.indexOf(current);
      if (index >= 0 && index < list.length - 1) {
        hp.values[h.name] = list[index + 1] as HpValue;
        hp.ensureActiveValues();
        return hp.values;
      }
    }
    hp.values[h.name] = h.default;
  }
  return null;
}

/** Number of combinations in a space without conditions (for progress totals); null if conditional. */
export function gridSize(space: HyperParameters): number | null {
  if (space.space.some((h) => h.conditions.length > 0)) return null;
  return space.space.reduce((n, h) => n * h.gridValues().length, 1);
}

/** Grid search over every combination in Keras Tuner's order (maxTrials optional). */
export class GridSearch extends Tuner {
  constructor(hypermodel: HyperModel | BuildFn | null, options: TunerOptions = {}) {
    super(hypermodel, { ...options, oracle: new GridSearchOracle(options) });
  }
}
