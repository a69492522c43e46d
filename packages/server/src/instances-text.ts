/**
 * A fast reader for the reference client's inner document, `{"instances": [n, n, ...]}` as JSON text, straight into
 * float32. The reference client formats pixels with Python's repr (`0.0`, `0.03529411764705882`), and V8's
 * JSON.parse takes its slow decimal path for every such number and then builds a 784-element list, which made that
 * one call the largest cost of a `/predict` request (20-30 ns per number). This reader scans the text once and
 * writes each number into the example's Float32Array.
 *
 * It only takes the common shape: one object whose only key is "instances", holding one flat list of exactly
 * `exampleSize` plain JSON numbers inside float32's range. Anything else (escapes, other keys, nesting, other
 * counts, strings, non-finite or out-of-range values, any syntax error) returns undefined and the caller parses the
 * document the general way, which also gives the error messages; so this reader never decides an answer alone.
 *
 * Every value equals Math.fround(JSON.parse(its text)): numbers of at most 15 significant digits and at most 22
 * decimals are computed exactly (both operands exact, so the quotient is the correctly rounded double JSON.parse
 * gives); longer ones carry an error of a few double ulps and are kept only when that cannot move them across a
 * float32 rounding midpoint, otherwise `Number()` parses that one number.
 */

// Parsed from text (exact: 1e0..1e22 are all doubles), not 10 ** i, whose result V8 does not promise to be exact.
const POW10 = Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));
const FLOAT32_MAX = 3.4028234663852886e38;
/** float32 keeps 23 of a double's 52 fraction bits; a value with the dropped 29 bits at 0x10000000 is a midpoint. */
const MIDPOINT = 0x10000000;
const DROPPED = 0x1fffffff;
/** How close (in double ulps) to a midpoint an approximate value must not come; its error is a few ulps. */
const MARGIN = 64;

const bits = new Float64Array(1);
const words = new Uint32Array(bits.buffer);
const LOW = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 0 : 1; // the word holding the low fraction bits

/** Whether an approximation of x within a few double ulps rounds to the same float32 as x. */
function roundsSafely(v: number): boolean {
  const a = Math.abs(v);
  // float32's subnormals keep fewer bits; stay well inside the normal range.
  if (a < 1e-30 || a > 1e30) return false;
  bits[0] = v;
  return Math.abs(((words[LOW] as number) & DROPPED) - MIDPOINT) > MARGIN;
}

/**
 * `out.length` float32 values from a document `{"instances": [numbers]}`, written into `out`; false when the text is
 * anything else (then `out` holds garbage).
 *
 * The text must end in `}` (spaces after it allowed), which is checked first: every read below happens right after
 * a digit, sign, point, exponent mark, comma, bracket or space, none of which is that final brace, so no read goes
 * past it. Reading past the end of a string deoptimizes V8's hot loop (the re-optimized code ran ~1.7x slower).
 */
export function readFlatInstances(text: string, out: Float32Array): boolean {
  const n = out.length;
  let last = text.length - 1;
  while (last >= 0 && isSpace(text.charCodeAt(last))) last--;
  if (n === 0 || last < 0 || text.charCodeAt(last) !== 125) return false;
  let i = skipSpace(text, 0);
  if (!text.startsWith('{', i)) return false;
  i = skipSpace(text, i + 1);
  if (!text.startsWith('"instances"', i)) return false;
  i = skipSpace(text, i + 11);
  if (text.charCodeAt(i) !== 58) return false; // :
  i = skipSpace(text, i + 1);
  if (text.charCodeAt(i) !== 91) return false; // [
  i++;
  for (let k = 0; k < n; k++) {
    let c = text.charCodeAt(i);
    while (isSpace(c)) c = text.charCodeAt(++i);
    const start = i;
    const negative = c === 45;
    if (negative) c = text.charCodeAt(++i);
    let mantissa = 0;
    let digits = 0;
    let decimals = 0;
    if (c === 48) c = text.charCodeAt(++i);
    else if (c >= 49 && c <= 57) {
      do {
        mantissa = mantissa * 10 + (c - 48);
        digits++;
        c = text.charCodeAt(++i);
      } while (c >= 48 && c <= 57);
    } else return false;
    if (c === 46) {
      c = text.charCodeAt(++i);
      if (!(c >= 48 && c <= 57)) return false;
      do {
        if (digits > 0 || c !== 48) digits++; // leading zeros of 0.0035 are not significant
        mantissa = mantissa * 10 + (c - 48);
        decimals++;
        c = text.charCodeAt(++i);
      } while (c >= 48 && c <= 57);
    }
    let value: number;
    if (c === 101 || c === 69) {
      c = text.charCodeAt(++i);
      if (c === 43 || c === 45) c = text.charCodeAt(++i);
      if (!(c >= 48 && c <= 57)) return false;
      do c = text.charCodeAt(++i);
      while (c >= 48 && c <= 57);
      value = Number(text.slice(start, i));
    } else if (decimals > 22 || digits > 40) {
      value = Number(text.slice(start, i));
    } else {
      value = decimals === 0 ? mantissa : mantissa / (POW10[decimals] as number);
      if (negative) value = -value;
      if (digits > 15 && !roundsSafely(value)) value = Number(text.slice(start, i));
    }
    if (!(value <= FLOAT32_MAX && value >= -FLOAT32_MAX)) return false;
    out[k] = value;
    while (isSpace(c)) c = text.charCodeAt(++i);
    if (c !== (k < n - 1 ? 44 : 93)) return false; // , between numbers, ] after the last
    i++;
  }
  i = skipSpace(text, i);
  return i === last;
}

const isSpace = (c: number): boolean => c === 32 || c === 10 || c === 13 || c === 9;

/** Index of the first non-space at or after i (bounded: used outside the number loop). */
function skipSpace(text: string, i: number): number {
  const end = text.length;
  while (i < end && isSpace(text.charCodeAt(i))) i++;
  return i;
}
