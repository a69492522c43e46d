import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { asNumber, plainNumber } from '../src/loaders/csv-reader.js';

describe('asNumber (the CSV cell to number conversion)', () => {
  it('equals Number() exactly on decimals, and refuses what is not a finite number', () => {
    for (const t of [
      '0',
      '-0',
      '+3',
      '12.5',
      '-0.000001',
      '.5',
      '5.',
      '123456789012345',
      '1234567890.12345',
      '99999999999999999',
      '1e3',
      ' 7 ',
      '0x1A',
    ]) {
      expect(Object.is(asNumber(t), Number(t))).toBe(true);
    }
    for (const t of ['abc', '1.2.3', '-', '.', 'Infinity', '1e999', '12a']) expect(asNumber(t)).toBeNaN();
  });

  it('matches Number() on random decimal strings', () => {
    fc.assert(
      fc.property(
        fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e9, max: 1e9 }),
        fc.integer({ min: 0, max: 12 }),
        (x, d) => {
          const t = x.toFixed(d);
          expect(Object.is(asNumber(t), Number(t))).toBe(true);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe("plainNumber (the byte reader's conversion)", () => {
  const bytes = (t: string) => Buffer.from(`,${t},`); // the cell between two delimiters
  const plain = (t: string) => plainNumber(bytes(t), 1, 1 + Buffer.byteLength(t));

  it('equals asNumber on plain decimals and hands everything else to the text path (NaN)', () => {
    for (const t of ['0', '-0', '+3', '12.5', '-0.000001', '.5', '5.', '123456789012345', '1234567890.12345']) {
      expect(Object.is(plain(t), asNumber(t)), t).toBe(true);
    }
    for (const t of ['', '-', '.', '+', '1e3', ' 7', '7 ', '0x1A', '1.2.3', 'NA', '1234567890123456', '1-2', 'é']) {
      expect(plain(t), t).toBeNaN();
    }
  });

  it('matches asNumber on random decimal strings', () => {
    fc.assert(
      fc.property(
        fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e9, max: 1e9 }),
        fc.integer({ min: 0, max: 12 }),
        (x, d) => {
          const t = x.toFixed(d);
          const v = plain(t);
          // Up to 15 digits: the same value; more: the text path's job.
          if (t.replace(/[-.]/g, '').length <= 15) expect(Object.is(v, asNumber(t)), t).toBe(true);
          else expect(v).toBeNaN();
        },
      ),
      { numRuns: 2000 },
    );
  });
});
