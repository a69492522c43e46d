/**
 * The hyperparameter types (Keras Tuner's hp_types) with Keras Tuner's semantics: every hyperparameter maps a cumulative probability
 * p in [0, 1) to a value (`probToValue`) and back (`valueToProb`); random search draws p, the GP
 * works in p-space, GridSearch enumerates `gridValues()`. A hyperparameter is identified by its
 * name and the conditions (parent name + allowed parent values) it was declared under.
 */
import type { HpValue } from '@tuneserve/client';
import { HyperParameterError } from '../errors.js';

export type { HpValue };
export type Sampling = 'linear' | 'log' | 'reverse_log';
export type HpKind = 'Int' | 'Float' | 'Choice' | 'Boolean' | 'Fixed';

export interface Condition {
  parentName: string;
  parentValues: HpValue[];
}

/** Serializable form of one hyperparameter (stored in the study). */
export interface HyperParameterConfig {
  kind: HpKind;
  name: string;
  conditions: Condition[];
  [option: string]: unknown;
}

export interface HyperParametersConfig {
  space: HyperParameterConfig[];
  values: Record<string, HpValue>;
}

export interface ConditionOptions {
  parentName?: string;
  parentValues?: HpValue[];
}

export interface IntOptions extends ConditionOptions {
  minValue: number;
  maxValue: number;
  step?: number;
  sampling?: Sampling;
  default?: number;
}

export interface FloatOptions extends ConditionOptions {
  minValue: number;
  maxValue: number;
  step?: number;
  sampling?: Sampling;
  default?: number;
}

export interface ChoiceOptions extends ConditionOptions {
  ordered?: boolean;
  default?: HpValue;
}

export interface BooleanOptions extends ConditionOptions {
  default?: boolean;
}

/** Rounds away binary noise such as 0.30000000000000004 so grid values print and hash cleanly. */
function clean(x: number): number {
  return Number(x.toPrecision(12));
}

function clamp01(p: number): number {
  return Math.min(1, Math.max(0, p));
}

const EPS = 1e-9;

export abstract class HyperParameter {
  abstract readonly kind: HpKind;
  abstract readonly default: HpValue;

  constructor(
    readonly name: string,
    readonly conditions: Condition[],
  ) {
    if (typeof name !== 'string' || name.length === 0) {
      throw new HyperParameterError('A hyperparameter needs a non-empty string name.');
    }
  }

  /** Maps a cumulative probability in [0, 1] to a value. */
  abstract probToValue(p: number): HpValue;
  /** Maps a value back to the centre of its probability bucket. */
  abstract valueToProb(value: HpValue): number;
  /** Every value GridSearch visits (a finite sample for continuous ranges), default not first. */
  abstract gridValues(): HpValue[];
  /** Whether `value` is a legal value of this hyperparameter. */
  abstract accepts(value: HpValue): boolean;
  protected abstract options(): Record<string, unknown>;

  randomSample(random: () => number): HpValue {
    return this.probToValue(random());
  }

  toConfig(): HyperParameterConfig {
    return { kind: this.kind, name: this.name, conditions: this.conditions, ...this.options() };
  }

  /** Same definition (kind, options and conditions)? */
  sameAs(other: HyperParameter): boolean {
    return JSON.stringify(this.toConfig()) === JSON.stringify(other.toConfig());
  }
}

/** Shared range logic of Int and Float. */
abstract class Numerical extends HyperParameter {
  readonly minValue: number;
  readonly maxValue: number;
  readonly step: number | null;
  readonly sampling: Sampling;

  constructor(name: string, conditions: Condition[], opts: IntOptions | FloatOptions, kind: 'Int' | 'Float') {
    super(name, conditions);
    const { minValue, maxValue } = opts;
    if (
      typeof minValue !== 'number' ||
      typeof maxValue !== 'number' ||
      !Number.isFinite(minValue) ||
      !Number.isFinite(maxValue)
    ) {
      throw new HyperParameterError(`${kind} '${name}': minValue and maxValue must be finite numbers.`);
    }
    if (minValue > maxValue) {
      throw new HyperParameterError(`${kind} '${name}': minValue (${minValue}) must be <= maxValue (${maxValue}).`);
    }
    const sampling = (opts.sampling ?? 'linear').toLowerCase() as Sampling;
    if (!['linear', 'log', 'reverse_log'].includes(sampling)) {
      throw new HyperParameterError(
        `${kind} '${name}': sampling must be 'linear', 'log' or 'reverse_log', got '${String(opts.sampling)}'.`,
      );
    }
    if (sampling !== 'linear' && minValue <= 0) {
      throw new HyperParameterError(`${kind} '${name}': ${sampling} sampling needs minValue > 0, got ${minValue}.`);
    }
    if (opts.step !== undefined && opts.step !== null) {
      if (typeof opts.step !== 'number' || !Number.isFinite(opts.step) || opts.step <= 0) {
        throw new HyperParameterError(`${kind} '${name}': step must be a positive number, got ${String(opts.step)}.`);
      }
      if (sampling !== 'linear' && opts.step <= 1) {
        throw new HyperParameterError(
          `${kind} '${name}': with ${sampling} sampling the step is a multiplier and must be > 1, got ${opts.step}.`,
        );
      }
    }
    this.minValue = minValue;
    this.maxValue = maxValue;
    this.sampling = sampling;
    this.step = opts.step ?? null;
  }

  /** Number of values on the step grid (includes maxValue when it is on the grid: no #1001). */
  protected nValues(step: number): number {
    if (this.sampling === 'linear') {
      const ratio = (this.maxValue - this.minValue) / step;
      return Math.floor(ratio + EPS * Math.max(1, ratio)) + 1;
    }
    const ratio = Math.log(this.maxValue / this.minValue) / Math.log(step);
    return Math.floor(ratio + 1e-8) + 1;
  }

  protected valueByIndex(step: number, i: number): number {
    if (this.sampling === 'linear') return clean(this.minValue + i * step);
    if (this.sampling === 'log') return clean(this.minValue * step ** i);
    return clean(this.maxValue + this.minValue - this.minValue * step ** i);
  }

  protected indexOf(step: number, value: number): number {
    let i: number;
    if (this.sampling === 'linear') i = (value - this.minValue) / step;
    else if (this.sampling === 'log') i = Math.log(value / this.minValue) / Math.log(step);
    else i = Math.log((this.maxValue + this.minValue - value) / this.minValue) / Math.log(step);
    return Math.min(this.nValues(step) - 1, Math.max(0, Math.round(i)));
  }

  /** Continuous mapping of p onto [lo, hi] with the sampling's shape. */
  protected continuous(p: number, lo: number, hi: number): number {
    if (this.sampling === 'linear') return lo + p * (hi - lo);
    if (this.sampling === 'log') return lo * (hi / lo) ** p;
    return hi + lo - lo * (hi / lo) ** (1 - p);
  }

  protected continuousInverse(v: number, lo: number, hi: number): number {
    if (hi === lo) return 0.5;
    if (this.sampling === 'linear') return (v - lo) / (hi - lo);
    if (this.sampling === 'log') return Math.log(v / lo) / Math.log(hi / lo);
    return 1 - Math.log((hi + lo - v) / lo) / Math.log(hi / lo);
  }

  protected stepProbToValue(step: number, p: number): number {
    const n = this.nValues(step);
    const i = Math.min(n - 1, Math.max(0, Math.floor(p * n)));
    return this.valueByIndex(step, i);
  }

  protected stepValueToProb(step: number, value: number): number {
    return (this.indexOf(step, value) + 0.5) / this.nValues(step);
  }

  protected stepValues(step: number): number[] {
    return Array.from({ length: this.nValues(step) }, (_, i) => this.valueByIndex(step, i));
  }

  protected inRange(value: HpValue): value is number {
    return typeof value === 'number' && value >= this.minValue - EPS && value <= this.maxValue + EPS;
  }

  protected override options(): Record<string, unknown> {
    return {
      minValue: this.minValue,
      maxValue: this.maxValue,
      step: this.step,
      sampling: this.sampling,
      default: this.default,
    };
  }
}

export class Int extends Numerical {
  readonly kind = 'Int' as const;
  readonly default: number;

  constructor(name: string, opts: IntOptions, conditions: Condition[] = []) {
    super(name, conditions, opts, 'Int');
    for (const [key, v] of [
      ['minValue', opts.minValue],
      ['maxValue', opts.maxValue],
      ['step', opts.step],
      ['default', opts.default],
    ] as const) {
      if (v !== undefined && v !== null && !Number.isInteger(v)) {
        throw new HyperParameterError(`Int '${name}': ${key} must be an integer, got ${v}.`);
      }
    }
    // Keras Tuner: a linear Int without a step moves in steps of 1.
    if (this.step === null && this.sampling === 'linear') (this as { step: number | null }).step = 1;
    this.default = opts.default ?? this.minValue;
    if (!this.accepts(this.default)) {
      throw new HyperParameterError(
        `Int '${name}': default ${this.default} is outside [${this.minValue}, ${this.maxValue}].`,
      );
    }
  }

  probToValue(p: number): number {
    if (this.step !== null) return Math.round(this.stepProbToValue(this.step, p));
    // Log sampling without a step: sample over [min, max+1) and floor, as Keras Tuner does.
    const v = Math.floor(this.continuous(clamp01(p), this.minValue, this.maxValue + 1));
    return Math.min(this.maxValue, Math.max(this.minValue, v));
  }

  valueToProb(value: HpValue): number {
    const v = Number(value);
    if (this.step !== null) return this.stepValueToProb(this.step, v);
    return clamp01(this.continuousInverse(v + 0.5, this.minValue, this.maxValue + 1));
  }

  gridValues(): number[] {
    if (this.step !== null) return this.stepValues(this.step).map(Math.round);
    return [...new Set(tenSamples().map((p) => this.probToValue(p)))];
  }

  accepts(value: HpValue): boolean {
    return this.inRange(value) && Number.isInteger(value);
  }
}

export class Float extends Numerical {
  readonly kind = 'Float' as const;
  readonly default: number;

  constructor(name: string, opts: FloatOptions, conditions: Condition[] = []) {
    super(name, conditions, opts, 'Float');
    this.default = opts.default ?? this.minValue;
    if (typeof this.default !== 'number' || !this.accepts(this.default)) {
      throw new HyperParameterError(
        `Float '${name}': default ${String(this.default)} is outside [${this.minValue}, ${this.maxValue}].`,
      );
    }
  }

  probToValue(p: number): number {
    if (this.step !== null) return this.stepProbToValue(this.step, p);
    return this.continuous(clamp01(p), this.minValue, this.maxValue);
  }

  valueToProb(value: HpValue): number {
    const v = Number(value);
    if (this.step !== null) return this.stepValueToProb(this.step, v);
    return clamp01(this.continuousInverse(v, this.minValue, this.maxValue));
  }

  gridValues(): number[] {
    if (this.step !== null) return this.stepValues(this.step);
    return [...new Set(tenSamples().map((p) => clean(this.probToValue(p))))];
  }

  accepts(value: HpValue): boolean {
    return this.inRange(value);
  }
}

/** p = 0.05, 0.15, ..., 0.95: Keras Tuner's grid for continuous ranges. */
function tenSamples(): number[] {
  return Array.from({ length: 10 }, (_, i) => (i + 0.5) / 10);
}

export class Choice extends HyperParameter {
  readonly kind = 'Choice' as const;
  readonly values: HpValue[];
  readonly ordered: boolean;
  readonly default: HpValue;

  constructor(name: string, values: HpValue[], opts: ChoiceOptions = {}, conditions: Condition[] = []) {
    super(name, conditions);
    if (!Array.isArray(values) || values.length === 0) {
      throw new HyperParameterError(`Choice '${name}': values must be a non-empty array.`);
    }
    const types = new Set(values.map((v) => typeof v));
    const type = values[0] === undefined ? 'undefined' : typeof values[0];
    if (types.size !== 1 || !['number', 'string', 'boolean'].includes(type)) {
      throw new HyperParameterError(
        `Choice '${name}': values must all be numbers, all strings or all booleans, got ${JSON.stringify(values)}.`,
      );
    }
    if (new Set(values).size !== values.length) {
      throw new HyperParameterError(`Choice '${name}': values contain duplicates: ${JSON.stringify(values)}.`);
    }
    if (opts.ordered === true && type !== 'number') {
      throw new HyperParameterError(`Choice '${name}': ordered must be false for ${type} values.`);
    }
    this.values = [...values];
    this.ordered = opts.ordered ?? type === 'number';
    this.default = opts.default ?? (values[0] as HpValue);
    if (!this.values.includes(this.default)) {
      throw new HyperParameterError(
        `Choice '${name}': default ${JSON.stringify(this.default)} is not one of ${JSON.stringify(values)}.`,
      );
    }
  }

  probToValue(p: number): HpValue {
    const n = this.values.length;
    return this.values[Math.min(n - 1, Math.max(0, Math.floor(p * n)))] as HpValue;
  }

  valueToProb(value: HpValue): number {
    const i = this.values.indexOf(value);
    return (Math.max(i, 0) + 0.5) / this.values.length;
  }

  gridValues(): HpValue[] {
    return [...this.values];
  }

  accepts(value: HpValue): boolean {
    return this.values.includes(value);
  }

  protected override options(): Record<string, unknown> {
    return { values: this.values, ordered: this.ordered, default: this.default };
  }
}

export class BooleanHp extends HyperParameter {
  readonly kind = 'Boolean' as const;
  readonly default: boolean;

  constructor(name: string, opts: BooleanOptions = {}, conditions: Condition[] = []) {
    super(name, conditions);
    if (opts.default !== undefined && typeof opts.default !== 'boolean') {
      throw new HyperParameterError(`Boolean '${name}': default must be a boolean, got ${String(opts.default)}.`);
    }
    this.default = opts.default ?? false;
  }

  probToValue(p: number): boolean {
    return p >= 0.5;
  }

  valueToProb(value: HpValue): number {
    return value === true ? 0.75 : 0.25;
  }

  gridValues(): boolean[] {
    return [true, false];
  }

  accepts(value: HpValue): boolean {
    return typeof value === 'boolean';
  }

  protected override options(): Record<string, unknown> {
    return { default: this.default };
  }
}

export class Fixed extends HyperParameter {
  readonly kind = 'Fixed' as const;
  readonly value: HpValue;

  constructor(name: string, value: HpValue, conditions: Condition[] = []) {
    super(name, conditions);
    if (!['number', 'string', 'boolean'].includes(typeof value)) {
      throw new HyperParameterError(`Fixed '${name}': value must be a number, string or boolean.`);
    }
    this.value = value;
  }

  get default(): HpValue {
    return this.value;
  }

  probToValue(): HpValue {
    return this.value;
  }

  valueToProb(): number {
    return 0.5;
  }

  gridValues(): HpValue[] {
    return [this.value];
  }

  accepts(value: HpValue): boolean {
    return value === this.value;
  }

  protected override options(): Record<string, unknown> {
    return { value: this.value };
  }
}

export function hyperParameterFromConfig(c: HyperParameterConfig): HyperParameter {
  const conditions = c.conditions ?? [];
  const o = c as Record<string, unknown>;
  switch (c.kind) {
    case 'Int':
    case 'Float': {
      const opts = {
        minValue: o.minValue as number,
        maxValue: o.maxValue as number,
        sampling: o.sampling as Sampling,
        default: o.default as number,
        ...(o.step === null || o.step === undefined ? {} : { step: o.step as number }),
      };
      // A linear Int stores step 1 explicitly, which round-trips to the same definition.
      return c.kind === 'Int' ? new Int(c.name, opts, conditions) : new Float(c.name, opts, conditions);
    }
    case 'Choice':
      return new Choice(
        c.name,
        o.values as HpValue[],
        { ordered: o.ordered as boolean, default: o.default as HpValue },
        conditions,
      );
    case 'Boolean':
      return new BooleanHp(c.name, { default: o.default as boolean }, conditions);
    case 'Fixed':
      return new Fixed(c.name, o.value as HpValue, conditions);
    default:
      throw new HyperParameterError(`Unknown hyperparameter kind '${String((c as { kind: unknown }).kind)}'.`);
  }
}
