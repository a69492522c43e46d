/** The request parsers' values and their error messages: what is wrong, and where. */
import { describe, expect, it } from 'vitest';
import { type InputSpec, InvalidInputError, parseRowInstances, readDenseTensor } from '../src/index.js';

const spec: InputSpec = { inputName: 'x', exampleShape: [2, 3], exampleSize: 6 };

function errorOf(run: () => unknown): string {
  try {
    run();
  } catch (e) {
    if (e instanceof InvalidInputError) return e.message;
    throw e;
  }
  throw new Error('expected an InvalidInputError');
}

describe('readDenseTensor', () => {
  it('copies every rank in row-major order, as float32', () => {
    expect(Array.from(readDenseTensor(2.5, 'x', 10).values)).toEqual([2.5]);
    expect(readDenseTensor([1, 2, 3], 'x', 10)).toMatchObject({ shape: [3] });
    const t = readDenseTensor(
      [
        [
          [1, 2],
          [3, 4],
        ],
        [
          [5, 6],
          [7, 0.1],
        ],
      ],
      'x',
      10,
    );
    expect(t.shape).toEqual([2, 2, 2]);
    expect(Array.from(t.values)).toEqual([1, 2, 3, 4, 5, 6, 7, Math.fround(0.1)]);
  });

  it('names the first wrong element, in reading order', () => {
    expect(
      errorOf(() =>
        readDenseTensor(
          [
            [1, 2],
            [3, 'a'],
          ],
          'inputs',
          10,
        ),
      ),
    ).toBe('inputs[1][1] is a string, expected a number');
    expect(errorOf(() => readDenseTensor([[1, 2], [3]], 'inputs', 10))).toBe(
      'inputs[1] has 1 elements but inputs[0] has 2: lists must be rectangular',
    );
    expect(errorOf(() => readDenseTensor([[1, 2], 3], 'inputs', 10))).toBe(
      'inputs[1] is a number, expected a list of 2 elements',
    );
    expect(
      errorOf(() =>
        readDenseTensor(
          [
            [1, [2]],
            [3, 4],
          ],
          'inputs',
          10,
        ),
      ),
    ).toBe('inputs[0][1] is an array, expected a number');
    expect(
      errorOf(() =>
        readDenseTensor(
          [
            [1, 2],
            [null, 'a'],
          ],
          'inputs',
          10,
        ),
      ),
    ).toBe('inputs[1][0] is null, expected a number');
    expect(errorOf(() => readDenseTensor([1, Number.NaN], 'inputs', 10))).toBe('inputs[1] is not a finite number');
    expect(errorOf(() => readDenseTensor([1e39], 'inputs', 10))).toBe('inputs[0] = 1e+39 is outside the float32 range');
    expect(errorOf(() => readDenseTensor([[]], 'inputs', 10))).toBe('inputs[0] is an empty list');
    expect(errorOf(() => readDenseTensor([[1, 2, 3]], 'inputs', 2))).toBe(
      'inputs holds 3 values, more than the limit of 2',
    );
  });

  it('reads valid documents exactly after rejecting every kind of bad one', () => {
    // Rejected inputs put lists of lists, strings and nulls through the same code as the numbers of valid ones.
    const bad = [
      [[1, [2]]],
      [['x', 1]],
      [[null, 1]],
      [[{}, 1]],
      [
        [[1], [2]],
        [3, 4],
      ],
      [1.5, [2.5]],
    ];
    for (let round = 0; round < 2000; round++) {
      for (const b of bad) expect(() => readDenseTensor(b, 'x', 100)).toThrow(InvalidInputError);
      const doc = JSON.parse(`[[${round + 0.5}, 2.25, 3], [4, 5, 6]]`) as unknown;
      expect(Array.from(parseRowInstances([doc], spec, 8).values)).toEqual([round + 0.5, 2.25, 3, 4, 5, 6]);
    }
  });
});
