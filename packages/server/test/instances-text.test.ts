/**
 * The text reader of the reference route must give exactly what JSON.parse + float32 gives, for every way a number
 * can be written, and must decline (never misread) everything else.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readFlatInstances } from '../src/instances-text.js';

/** What the general path reads: JSON.parse, then float32. */
function general(text: string): Float32Array {
  return Float32Array.from((JSON.parse(text) as { instances: number[] }).instances);
}

function read(text: string, n: number): Float32Array | undefined {
  const out = new Float32Array(n);
  return readFlatInstances(text, out) ? out : undefined;
}

function expectSame(text: string, n: number): void {
  const got = read(text, n);
  expect(got, text.slice(0, 200)).toBeDefined();
  const want = general(text);
  for (let i = 0; i < n; i++) expect(Object.is(got?.[i], want[i]), `${text.slice(0, 120)} [${i}]`).toBe(true);
}

/** Python's repr of a float: shortest round-trip digits, with ".0" on integral values. */
const pythonRepr = (v: number): string => (Number.isInteger(v) && Math.abs(v) < 1e16 ? v.toFixed(1) : String(v));

const float32Range = fc.double({ min: -3.4e38, max: 3.4e38, noNaN: true });
const formats: ((v: number) => string)[] = [
  String,
  pythonRepr,
  (v) => v.toPrecision(17),
  (v) => v.toPrecision(9),
  (v) => v.toExponential(12),
  (v) => v.toExponential(3).toUpperCase(),
];

describe('readFlatInstances', () => {
  it('reads the reference client exact body as the general path does', () => {
    const body = readFileSync(join(import.meta.dirname, 'golden', 'reference-request.body'), 'utf8');
    expectSame(JSON.parse(body) as string, 784);
  });

  it('equals JSON.parse + float32 for random values in every number format, with any spacing', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(float32Range, fc.integer({ min: 0, max: formats.length - 1 })), {
          minLength: 1,
          maxLength: 20,
        }),
        fc.constantFrom('', ' ', '\n  ', '\t'),
        (items, space) => {
          const numbers = items.map(([v, f]) => (formats[f] as (v: number) => string)(v));
          const text = `${space}{${space}"instances"${space}:${space}[${space}${numbers.join(`${space},${space}`)}${space}]${space}}${space}`;
          expectSame(text, items.length);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('rounds values next to float32 rounding midpoints exactly as JSON.parse + float32 does', () => {
    fc.assert(
      fc.property(
        fc.float({ noNaN: true, noDefaultInfinity: true, min: Math.fround(-1e30), max: Math.fround(1e30) }),
        fc.integer({ min: -8, max: 8 }),
        fc.integer({ min: 15, max: 21 }),
        (f, nudge, digits) => {
          // The double halfway between f and the next float32 up, moved by a few double ulps, written with
          // 15 to 21 significant digits (beyond 17, the text sits between doubles too).
          const next = new Float32Array([f]);
          const asInt = new Int32Array(next.buffer);
          asInt[0] = (asInt[0] as number) + (f >= 0 ? 1 : -1);
          const mid = (f + (next[0] as number)) / 2;
          const moved = mid + nudge * Math.abs(mid) * Number.EPSILON;
          const text = `{"instances":[${moved.toPrecision(Math.min(digits, 21))}]}`;
          if (!Number.isFinite(moved) || Math.abs(Number(JSON.parse(text).instances[0])) > 3.4e38) return;
          expectSame(text, 1);
        },
      ),
      { numRuns: 5000 },
    );
  });

  it('equals JSON.parse + float32 for arbitrary JSON number texts', () => {
    const numberText = fc.stringMatching(/^-?(0|[1-9][0-9]{0,24})(\.[0-9]{1,30})?([eE][+-]?[0-9]{1,2})?$/);
    fc.assert(
      fc.property(fc.array(numberText, { minLength: 1, maxLength: 10 }), (numbers) => {
        const text = `{"instances": [${numbers.join(', ')}]}`;
        const values = (JSON.parse(text) as { instances: number[] }).instances;
        if (values.some((v) => Math.abs(v) > 3.4028234663852886e38)) {
          expect(read(text, numbers.length)).toBeUndefined(); // out of float32's range: the general path says so
          return;
        }
        expectSame(text, numbers.length);
      }),
      { numRuns: 3000 },
    );
  });

  it('declines every other document instead of guessing', () => {
    const cases: [string, number][] = [
      ['{"instances": [1, 2, 3]}', 4], // too few
      ['{"instances": [1, 2, 3, 4, 5]}', 4], // too many
      ['{"instances": [[1, 2, 3, 4]]}', 4], // nested (the general path accepts it)
      ['{"instances": [1, 2, 3, 4], "signature_name": "x"}', 4],
      ['{"signature_name": "x", "instances": [1, 2, 3, 4]}', 4],
      ['{"instance\\u0073": [1, 2, 3, 4]}', 4],
      ['{"instances": [1, 2, "3", 4]}', 4],
      ['{"instances": [1, 2, NaN, 4]}', 4],
      ['{"instances": [1, 2, Infinity, 4]}', 4],
      ['{"instances": [1, 2, 1e39, 4]}', 4],
      ['{"instances": [1, 2, -3.5e38, 4]}', 4],
      ['{"instances": [01, 2, 3, 4]}', 4],
      ['{"instances": [1., 2, 3, 4]}', 4],
      ['{"instances": [.5, 2, 3, 4]}', 4],
      ['{"instances": [1e, 2, 3, 4]}', 4],
      ['{"instances": [+1, 2, 3, 4]}', 4],
      ['{"instances": [1 2, 3, 4]}', 4],
      ['{"instances": [1, 2, 3, 4,]}', 4],
      ['{"instances": [1, 2, 3, 4]', 4],
      ['{"instances": [1, 2, 3, 4]} x', 4],
      ['{"instances": [1, 2, 3, 4]}}', 4],
      ['"{\\"instances\\": [1, 2, 3, 4]}"', 4],
      ['{"instances": []}', 0],
      ['', 4],
    ];
    for (const [text, n] of cases) expect(read(text, n), text).toBeUndefined();
  });

  it('never reads a text that JSON.parse would read differently', () => {
    const valid = '{"instances": [0.0, 1.5, -2e-3, 0.03529411764705882]}';
    const mutated = fc
      .tuple(fc.nat({ max: valid.length }), fc.nat({ max: 3 }), fc.string({ maxLength: 3 }))
      .map(([at, cut, insert]) => valid.slice(0, at) + insert + valid.slice(at + cut));
    fc.assert(
      fc.property(fc.oneof(mutated, fc.string({ maxLength: 60 })), (text) => {
        const got = read(text, 4);
        if (!got) return;
        expect(general(text)).toEqual(got); // whatever it accepts, the general path reads the same
        expect(Object.keys(JSON.parse(text) as object)).toEqual(['instances']);
      }),
      { numRuns: 5000 },
    );
  });
});
