/**
 * The one reading of boolean words, for environment variables and flags alike: 1/true/yes/on and 0/false/no/off in
 * any case. Anything else is refused by the caller rather than guessed: `METRICS_OPEN=false` once meant "open".
 */
const TRUE = new Set(['1', 'true', 'yes', 'on']);
const FALSE = new Set(['0', 'false', 'no', 'off']);

/** What the words are, for error messages. */
export const BOOLEAN_WORDS = '1/true/yes/on or 0/false/no/off';

/** true, false, or undefined when `text` is not a boolean word. */
export function parseBoolean(text: string): boolean | undefined {
  const word = text.trim().toLowerCase();
  if (TRUE.has(word)) return true;
  if (FALSE.has(word)) return false;
  return undefined;
}

/**
 * The one reading of whole numbers in text (flags, environment variables, URL segments, folder names): digits only
 * (no sign, exponent, fraction or hex), a safe integer, at least `min`; undefined for anything else.
 */
export function parseInteger(text: string, min = 0): number | undefined {
  const word = text.trim();
  if (!/^\d+$/.test(word)) return undefined;
  const n = Number(word);
  return Number.isSafeInteger(n) && n >= min ? n : undefined;
}

/** A boolean environment variable: `fallback` when unset or empty; throws `makeError(message)` on any other word. */
export function booleanEnv(
  name: string,
  fallback: boolean,
  makeError: (message: string) => Error,
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  const text = env[name];
  if (text === undefined || text.trim() === '') return fallback;
  const value = parseBoolean(text);
  if (value === undefined) throw makeError(`${name} must be ${BOOLEAN_WORDS}, got "${text}"`);
  return value;
}
