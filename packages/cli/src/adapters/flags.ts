/** Parsers for flags and their environment variables: a bad value is an InvalidArgumentError naming the flag (exit 2). */
import { BOOLEAN_WORDS, parseBoolean, parseInteger } from '@tuneserve/runtime';
import { InvalidArgumentError } from 'commander';

/** The one integer parser: digits only (no 1e3, no 1.5, no sign), a safe integer, at least `min`. */
export function integer(flag: string, min: number): (value: string) => number {
  const what = min === 0 ? 'a non-negative integer' : min === 1 ? 'a positive integer' : `an integer >= ${min}`;
  return (value) => {
    const n = parseInteger(value, min);
    if (n === undefined) throw new InvalidArgumentError(`${flag} must be ${what}, got "${value}"`);
    return n;
  };
}

export const positiveInt = (flag: string): ((value: string) => number) => integer(flag, 1);
export const nonNegativeInt = (flag: string): ((value: string) => number) => integer(flag, 0);

/** 1/true/yes/on or 0/false/no/off in any case (runtime's parseBoolean); anything else is refused. */
export function boolean(flag: string): (value: string) => boolean {
  return (value) => {
    const parsed = parseBoolean(value);
    if (parsed === undefined) throw new InvalidArgumentError(`${flag} must be ${BOOLEAN_WORDS}, got "${value}"`);
    return parsed;
  };
}

/** A repeatable flag whose values may also be comma lists. */
export function list(value: string, previous: string[] = []): string[] {
  return [
    ...previous,
    ...value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  ];
}

export function oneOf<T extends string>(flag: string, values: readonly T[]): (value: string) => T {
  return (value) => {
    if (!(values as readonly string[]).includes(value)) {
      throw new InvalidArgumentError(`${flag} must be one of ${values.join(', ')}; got "${value}"`);
    }
    return value as T;
  };
}
