/**
 * The hyperparameters container (Keras Tuner's HyperParameters): the search space declared so far
 * and the current values, with conditional scopes and declare-on-first-use.
 */
import { HyperParameterError } from '../errors.js';
import {
  BooleanHp,
  type BooleanOptions,
  Choice,
  type ChoiceOptions,
  type Condition,
  type ConditionOptions,
  Fixed,
  Float,
  type FloatOptions,
  type HpValue,
  type HyperParameter,
  type HyperParametersConfig,
  hyperParameterFromConfig,
  Int,
  type IntOptions,
} from './hp-types.js';

function sameConditions(a: Condition[], b: Condition[]): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The search space (every hyperparameter ever declared, parents before children) and the values
 * of the active ones. A build function declares hyperparameters by calling `int`, `float`, ...;
 * each call registers the definition once and returns the current value (the default until an
 * oracle populates it).
 */
export class HyperParameters {
  readonly space: HyperParameter[] = [];
  values: Record<string, HpValue> = {};
  /** When false, declaring a hyperparameter that is not in the space throws (allowNewEntries). */
  allowNewEntries = true;
  private readonly scopes: Condition[] = [];
  /** Scopes that were skipped because inactive (their condition stacks), for space discovery. */
  readonly skippedScopes: Condition[][] = [];

  int(name: string, opts: IntOptions): number {
    return this.register(new Int(name, opts, this.conditionsFor(opts))) as number;
  }

  float(name: string, opts: FloatOptions): number {
    return this.register(new Float(name, opts, this.conditionsFor(opts))) as number;
  }

  choice<T extends HpValue>(name: string, values: T[], opts: ChoiceOptions = {}): T {
    return this.register(new Choice(name, values, opts, this.conditionsFor(opts))) as T;
  }

  boolean(name: string, opts: BooleanOptions = {}): boolean {
    return this.register(new BooleanHp(name, opts, this.conditionsFor(opts))) as boolean;
  }

  fixed<T extends HpValue>(name: string, value: T, opts: ConditionOptions = {}): T {
    return this.register(new Fixed(name, value, this.conditionsFor(opts))) as T;
  }

  /**
   * Runs `fn` only when `parentName`'s current value is one of `parentValues`; hyperparameters
   * declared inside are conditional on it. Returns fn's result, or undefined when inactive.
   * The tuner activates every scope once while discovering the space, so all of them get registered.
   */
  conditionalScope<T>(parentName: string, parentValues: HpValue | HpValue[], fn: () => T): T | undefined {
    const values = Array.isArray(parentValues) ? parentValues : [parentValues];
    const parent = this.space.find((h) => h.name === parentName);
    if (!parent) {
      throw new HyperParameterError(
        `conditionalScope: parent '${parentName}' is not defined; declare it before the scope.`,
      );
    }
    for (const v of values) {
      if (!parent.accepts(v)) {
        throw new HyperParameterError(
          `conditionalScope: ${JSON.stringify(v)} is not a valid value of '${parentName}'.`,
        );
      }
    }
    const condition: Condition = { parentName, parentValues: values };
    if (!this.conditionsActive([...this.scopes, condition])) {
      const stack = [...this.scopes, condition];
      const key = JSON.stringify(stack);
      if (!this.skippedScopes.some((s) => JSON.stringify(s) === key)) this.skippedScopes.push(stack);
      return undefined;
    }
    this.scopes.push(condition);
    let result: T;
    try {
      result = fn();
    } catch (err) {
      this.scopes.pop();
      throw err;
    }
    if (result instanceof Promise) {
      return result.finally(() => this.scopes.pop()) as T;
    }
    this.scopes.pop();
    return result;
  }

  /** The current value; throws for an unknown or currently inactive name. */
  get(name: string): HpValue {
    if (name in this.values) return this.values[name] as HpValue;
    if (this.space.some((h) => h.name === name)) {
      throw new HyperParameterError(`Hyperparameter '${name}' is currently inactive.`);
    }
    throw new HyperParameterError(`Unknown hyperparameter '${name}'.`);
  }

  has(name: string): boolean {
    return this.space.some((h) => h.name === name);
  }

  /** The definition that is active for `name` (or the first one when none is active). */
  getHyperParameter(name: string): HyperParameter | undefined {
    const candidates = this.space.filter((h) => h.name === name);
    return candidates.find((h) => this.isActive(h)) ?? candidates[0];
  }

  isActive(hp: HyperParameter | string): boolean {
    const h = typeof hp === 'string' ? this.getHyperParameter(hp) : hp;
    return h !== undefined && this.conditionsActive(h.conditions);
  }

  conditionsActive(conditions: Condition[]): boolean {
    for (const c of conditions) {
      const parent = this.space.find((h) => h.name === c.parentName && this.isActive(h));
      if (!parent) return false;
      const value = this.values[c.parentName] ?? parent.default;
      if (!c.parentValues.includes(value)) return false;
    }
    return true;
  }

  /** Adds a definition to the space without touching values (used when merging spaces). */
  addToSpace(hp: HyperParameter): void {
    const existing = this.space.find((h) => h.name === hp.name && sameConditions(h.conditions, hp.conditions));
    if (existing) {
      if (!existing.sameAs(hp)) throw redefinition(existing, hp);
      return;
    }
    this.space.push(hp);
  }

  /** Drops the values of inactive hyperparameters and gives active ones without a value their default. */
  ensureActiveValues(): void {
    for (const hp of this.space) {
      if (this.isActive(hp)) {
        if (!(hp.name in this.values) || !hp.accepts(this.values[hp.name] as HpValue))
          this.values[hp.name] = hp.default;
      }
    }
    for (const name of Object.keys(this.values)) {
      if (!this.space.some((h) => h.name === name && this.isActive(h))) delete this.values[name];
    }
  }

  copy(): HyperParameters {
    const hp = HyperParameters.fromConfig(this.toConfig());
    hp.allowNewEntries = this.allowNewEntries;
    return hp;
  }

  toConfig(): HyperParametersConfig {
    return { space: this.space.map((h) => h.toConfig()), values: { ...this.values } };
  }

  static fromConfig(config: HyperParametersConfig): HyperParameters {
    const hp = new HyperParameters();
    for (const c of config.space) hp.space.push(hyperParameterFromConfig(c));
    hp.values = { ...config.values };
    return hp;
  }

  private conditionsFor(opts: ConditionOptions): Condition[] {
    const conditions = [...this.scopes];
    if (opts.parentName !== undefined) {
      if (!this.has(opts.parentName)) {
        throw new HyperParameterError(`parentName '${opts.parentName}' is not defined; declare it first.`);
      }
      conditions.push({ parentName: opts.parentName, parentValues: opts.parentValues ?? [] });
    }
    return conditions;
  }

  private register(hp: HyperParameter): HpValue {
    const existing = this.space.find((h) => h.name === hp.name && sameConditions(h.conditions, hp.conditions));
    let def = existing;
    if (existing) {
      if (!existing.sameAs(hp)) throw redefinition(existing, hp);
    } else {
      const active = this.space.find((h) => h.name === hp.name && this.isActive(h));
      if (active && this.conditionsActive(hp.conditions)) {
        throw new HyperParameterError(
          `Hyperparameter '${hp.name}' is already active under other conditions; give it another name.`,
        );
      }
      if (!this.allowNewEntries) {
        throw new HyperParameterError(
          `Hyperparameter '${hp.name}' is not in the pre-declared search space and allowNewEntries is false.`,
        );
      }
      this.space.push(hp);
      def = hp;
    }
    const h = def as HyperParameter;
    if (!this.conditionsActive(h.conditions)) return h.default;
    const current = this.values[h.name];
    if (current === undefined || !h.accepts(current)) this.values[h.name] = h.default;
    return this.values[h.name] as HpValue;
  }
}

function redefinition(a: HyperParameter, b: HyperParameter): HyperParameterError {
  return new HyperParameterError(
    `Hyperparameter '${a.name}' was redefined differently: ${JSON.stringify(a.toConfig())} vs ${JSON.stringify(b.toConfig())}.`,
  );
}
