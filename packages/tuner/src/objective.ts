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

/** Keras Tuner's scalarization: sum of min objectives minus sum of max objectives, minimized. */
export class MultiObjective extends Objective {
  readonly objectives: Objective[];

  constructor(objectives: Objective[]) {
    super('multi_objective', 'min');
    if (objectives.length === 0) throw new ObjectiveError('A list objective needs at least one entry.');
    this.objectives = objectives;
  }

  override getValue(metrics: Record<string, number>): number | undefined {
    if (typeof metrics.multi_objective === 'number') return metrics.multi_objective;
    let total = 0;
    for (const o of this.objectives) {
      const v = o.getValue(metrics);
      if (v === undefined) return undefined;
      total += o.direction === 'min' ? v : -v;
    }
    return total;
  }

  override toSpec(): ObjectiveSpec {
    return this.objectives.map((o) => ({ name: o.name, direction: o.direction }));
  }
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
