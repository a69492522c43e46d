/** The hand-written JSON of TF Serving answers: the same document JSON.stringify would write. */
import { describe, expect, it } from 'vitest';
import { rowsJson } from '../src/context.js';

describe('rowsJson', () => {
  it('writes one list per example, each value as the float32 it is', () => {
    const out = new Float32Array([0.1, 0.2, 0.7, 1e-12, 0, 1]);
    const text = rowsJson('predictions', out, 2, 3);
    expect(JSON.parse(text)).toEqual({ predictions: [Array.from(out.subarray(0, 3)), Array.from(out.subarray(3))] });
    expect(text).toBe(JSON.stringify({ predictions: [Array.from(out.subarray(0, 3)), Array.from(out.subarray(3))] }));
  });

  it('writes values JSON cannot hold as null', () => {
    const text = rowsJson('outputs', new Float32Array([Number.NaN, Number.POSITIVE_INFINITY, -2]), 1, 3);
    expect(JSON.parse(text)).toEqual({ outputs: [[null, null, -2]] });
  });
});
