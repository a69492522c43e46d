import type { TabularInput } from '@tuneserve/client';
import { describe, expect, it } from 'vitest';
import { decodeRow, encodedWidth, encodeRows, FieldError } from '../src/index.js';

const schema: TabularInput = {
  kind: 'tabular',
  features: [
    { name: 'alcohol', type: 'number', mean: 13, std: 2, min: 11, max: 15 },
    { name: 'colour', type: 'category', categories: ['red', 'white'], other: false },
    { name: 'region', type: 'category', categories: ['a', 'b'], other: true },
  ],
};

describe('encodeRows (the transform shared by training and serving)', () => {
  it('standardises numbers and one-hot encodes categories, in schema order', () => {
    expect(encodedWidth(schema)).toBe(1 + 2 + 3);
    const x = encodeRows(schema, [
      { alcohol: 15, colour: 'white', region: 'a' },
      { region: 'zzz', colour: 'red', alcohol: '11' },
    ]);
    expect(Array.from(x)).toEqual([1, 0, 1, 1, 0, 0, -1, 1, 0, 0, 0, 1]);
  });

  it('names the field of a missing, extra, mistyped or unknown value', () => {
    const bad = (row: Record<string, unknown>) => () =>
      encodeRows(schema, [{ alcohol: 13, colour: 'red', region: 'a' }, row]);
    expect(bad({ colour: 'red', region: 'a' })).toThrow(FieldError);
    expect(bad({ colour: 'red', region: 'a' })).toThrow("instance 1: field 'alcohol': missing (a number is required)");
    expect(bad({ alcohol: 1, colour: 'red', region: 'a', acidity: 3 })).toThrow(/field 'acidity': unknown field/);
    expect(bad({ alcohol: 'strong', colour: 'red', region: 'a' })).toThrow(
      /field 'alcohol': expected a number, got "strong"/,
    );
    expect(bad({ alcohol: true, colour: 'red', region: 'a' })).toThrow(
      /field 'alcohol': expected a number, got boolean/,
    );
    expect(bad({ alcohol: 1, colour: ['red'], region: 'a' })).toThrow(
      /field 'colour': expected a string, got an array/,
    );
    expect(bad({ alcohol: 1, colour: 'rosé', region: 'a' })).toThrow(
      /field 'colour': unknown category "rosé" \(expected one of "red", "white"\)/,
    );
    expect(bad({ alcohol: Number.POSITIVE_INFINITY, colour: 'red', region: 'a' })).toThrow(/finite number/);
    try {
      bad({ alcohol: 1, colour: 'red' })();
    } catch (err) {
      expect((err as FieldError).field).toBe('region');
      expect((err as FieldError).row).toBe(1);
    }
  });

  it('fills missing values with the fitted impute values', () => {
    const imputed: TabularInput = {
      kind: 'tabular',
      features: [
        { name: 'n', type: 'number', mean: 0, std: 1, min: 0, max: 1, impute: 0.5 },
        { name: 'c', type: 'category', categories: ['x', 'y'], other: false, impute: 'y' },
      ],
    };
    expect(Array.from(encodeRows(imputed, [{}, { n: null, c: null }]))).toEqual([0.5, 0, 1, 0.5, 0, 1]);
  });

  it('rejects a record that is not an object', () => {
    expect(() => encodeRows(schema, [[1, 2, 3] as unknown as Record<string, unknown>])).toThrow(
      /instance 0 must be an object/,
    );
  });
});

describe('decodeRow (a test example shown as the values a person would type)', () => {
  it('inverts encodeRows: numbers de-standardised, categories by their hot slot, the other slot as "other"', () => {
    const rows = [
      { alcohol: 13.7, colour: 'white', region: 'b' },
      { alcohol: 11.25, colour: 'red', region: 'elsewhere' },
    ];
    const x = encodeRows(schema, rows);
    const width = encodedWidth(schema);
    expect(decodeRow(schema, x.subarray(0, width))).toEqual(rows[0]);
    expect(decodeRow(schema, x.subarray(width, 2 * width))).toEqual({ alcohol: 11.25, colour: 'red', region: 'other' });
    expect(() => decodeRow(schema, x)).toThrow('an encoded row of this schema has 6 values, got 12');
  });
});
