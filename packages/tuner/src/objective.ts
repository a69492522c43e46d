/**
 * Objectives: which metric a trial is scored on and whether lower or higher is better. Names
 * follow Keras Tuner; TF.js logs `acc`/`val_acc` for metrics: ['accuracy'], so 'accuracy' and
 * 'acc' are aliases of each other when reading logs.
 */
import { ObjectiveError } from './errors.js';

export type Direction = 'min' | 'max';
export type ObjectiveSpec = { name: string; direction: Direction } | { name: string; direction: Direction }[];

const MIN_WORDS = new Set(['loss', 'crossentropy', 'ce']);
const MAX_NAMES = new Set([
  'acc',
  'accuracy',
  'binary_accuracy',
  'categorical_accuracy',
  'sparse_categorical_accuracy',
  'top_k_categorical_accuracy',
  'sparse_top_k_categorical_accuracy',
  'true_positives',
  'true_negatives',
  'precision',
  'recall',
  'auc',
  'sensitivity_at_specificity',
  'specificity_at_sensitivity',
  'r2_score',
  'f1_score',
]);
const MIN_NAMES = new Set([
  'mse',
  'mae',
  'mape',
  'msle',
  'mean_squared_error',
  'mean_absolute_error',
  'mean_absolute_percentage_error',
  'mean_squared_logarithmic_error',
  'binary_crossentropy',
  'categorical_crossentropy',
  'sparse_categorical_crossentropy',
  'kl_divergence',
  'kld',
  'kullback_leibler_divergence',
  'hinge',
  'squared_hinge',
  'categorical_hinge',
  'poisson',
  'cosine_proximity',
  'log_cosh',
  'logcosh',
  'huber',
  'false_positives',
  'false_negatives',
  'rmse',
  'root_mean_squared_error',
  'error',
  'regret',
  // The tuner's built-in metrics (engine/builtin-metrics.ts).
  'model_size',
  'model_bytes',
  'latency_ms',
]);

/** camelCase (TF.js metric names) -> snake_case (Keras names). */
function snake(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

/** Keras Tuner's rule: strip `val_` and `weighted_`, then look the metric up. */
export function inferDirection(name: string): Direction | undefined {
  let n = snake(name);
  if (n.startsWith('val_')) n = n.slice(4);
  if (n.startsWith('weighted_')) n = n.slice(9);
  if (MIN_WORDS.has(n) || MIN_NAMES.has(n) || n.endsWith('_loss') || n.endsWith('_crossentropy')) return 'min';
  if (MAX_NAMES.has(n) || n.endsWith('_accuracy')) return 'max';
  return undefined;
}

/** Alternative spellings under which a metric may appear in TF.js logs. */
export function metricAliases(name: string): string[] {
  const out = [name];
  const swap = (from: string, to: string) => {
    if (name === from || name.endsWith(`_${from}`)) out.push(name.slice(0, name.length - from.length) + to);
  };
  swap('accuracy', 'acc');
  swap('acc', 'accuracy');
  const camel = name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  if (camel !== name) out.push(camel);
  const s = snake(name);
  if (s !== name) out.push(s);
  return [...new Set(out)];
}

export class Objective {
  readonly name: string;
  readonly direction: Direction;

  constructor(name: string, direction?: Direction) {
    if (typeof name !== 'string' || name.length === 0) throw new ObjectiveError('An objective needs a metric name.');
    const d = direction ?? inferDirection(name);
    if (d === undefined) {
      throw new ObjectiveError(
        `Could not infer whether '${name}' should be minimized or maximized; pass new Objective('${name}', 'min' | 'max').`,
      );
    }
    if (d !== 'min' && d !== 'max') throw new ObjectiveError(`Objective direction must be 'min' or 'max', got '${d}'.`);
    this.name = name;
    this.direction = d;
  }

  /** True when a is strictly better than b (NaN is never better). */
  better(a: number, b: number): boolean {
    if (Number.isNaN(a)) return false;
    if (Number.isNaN(b)) return true;
    return this.direction === 'min' ? a < b : a > b;
  }

  /** The objective's value in a metrics record, resolving acc/accuracy and camelCase aliases. */
  getValue(metrics: Record<string, number>): number | undefined {
    for (const alias of metricAliases(this.name)) {
      const v = metrics[alias];
      if (typeof v === 'number') return v;
    }
    return undefined;
  }

  hasValue(metrics: Record<string, number>): boolean {
    return this.getValue(metrics) !== undefined;
  }

  toSpec(): ObjectiveSpec {
    return { name: this.name, direction: this.direction };
  }
}

/** Used when no objective is given: runTrial must return a number, minimized. */
export class DefaultObjective extends Objective {
  constructor() {
    super('default_objective', 'min');
  }
}

/**
 * Several objectives searched for their Pareto front (Optuna's multi-objective studies; Keras
 * Tuner summed them instead). It acts as its FIRST objective wherever one number is needed (a
 * trial's score, the best epoch of an execution, single-objective views, pruning), so code that
 * knows one objective keeps working; `values` gives every objective's value for Pareto ranking.
 */
export class MultiObjective extends Objective {
  readonly objectives: Objective[];

  constructor(objectives: Objective[]) {
    const first = objectives[0];
    if (!first) throw new ObjectiveError('A list objective needs at least one entry.');
    super(first.name, first.direction);
    const names = new Set<string>();
    for (const o of objectives) {
      if (names.has(o.name)) throw new ObjectiveError(`The objective '${o.name}' is listed twice.`);
      names.add(o.name);
    }
    this.objectives = objectives;
  }

  /** Each objective's value (raw, in its own direction), or undefined when one is missing. */
  values(metrics: Record<string, number>): number[] | undefined {
    const out: number[] = [];
    for (const o of this.objectives) {
      const v = o.getValue(metrics);
      if (v === undefined) return undefined;
      out.push(v);
    }
    return out;
  }

  override toSpec(): ObjectiveSpec {
    return this.objectives.map((o) => ({ name: o.name, direction: o.direction }));
  }
}

/** The objectives of a Pareto search (2+), or undefined for a single objective. */
export function paretoObjectives(objective: Objective): Objective[] | undefined {
  return objective instanceof MultiObjective && objective.objectives.length > 1 ? objective.objectives : undefined;
}

/**
 * A trial's score, and in a multi-objective study its values, read from its metrics. Studies
 * written before Pareto search stored a list objective's scalarised sum as the score; reading the
 * score back from the metrics makes their trials rank like new ones.
 */
export function scoreOf(
  rec: { score: number | null; metrics: Record<string, number> },
  objective: Objective,
): { score: number | null; values?: number[] | null } {
  const objectives = paretoObjectives(objective);
  if (!objectives) return { score: rec.score };
  const values = objectives.map((o) => o.getValue(rec.metrics));
  const complete = values.every((v) => v !== undefined && Number.isFinite(v));
  const primary = objective.getValue(rec.metrics);
  return {
    score: rec.score === null || primary === undefined ? null : primary,
    values: complete ? (values as number[]) : null,
  };
}

export type ObjectiveInput = string | Objective | (string | Objective)[] | undefined | null;

export function toObjective(input: ObjectiveInput): Objective {
  if (input === undefined || input === null) return new DefaultObjective();
  if (input instanceof Objective) return input;
  if (typeof input === 'string') return input === 'default_objective' ? new DefaultObjective() : new Objective(input);
  if (Array.isArray(input)) {
    const list = input.map((o) => toObjective(o));
    return list.length === 1 ? (list[0] as Objective) : new MultiObjective(list);
  }
  throw new ObjectiveError(`Invalid objective ${JSON.stringify(input)}.`);
}

export function objectiveFromSpec(spec: ObjectiveSpec): Objective {
  if (Array.isArray(spec)) return toObjective(spec.map((s) => new Objective(s.name, s.direction)));
  if (spec.name === 'default_objective') return new DefaultObjective();
  return new Objective(spec.name, spec.direction);
}
