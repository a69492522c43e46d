/** Helpers that run the same computation on the cpu backend (reference) and on wasm, and compare. */
import * as tf from '@tensorflow/tfjs';
import { seededRandom } from '@tuneserve/client';
import { expect } from 'vitest';

/** Deterministic numbers so failures reproduce (the project's one seeded generator). */
export const rng = seededRandom;

export function randomArray(r: () => number, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => r() * 2 - 1);
}

export const randInt = (r: () => number, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));

/** Runs `compute` on a backend and returns the outputs as plain arrays, disposing every tensor it made. */
export async function runOn(backend: string, compute: () => tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const outs = tf.tidy(compute);
  const values = outs.map((t) => Float32Array.from(t.dataSync()));
  tf.dispose(outs);
  return values;
}

/** Max abs difference relative to the reference's largest magnitude (a norm-wise relative error). */
export function relativeError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let diff = 0;
  let scale = 1e-6;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs((got[i] ?? Number.NaN) - (want[i] ?? 0)));
    scale = Math.max(scale, Math.abs(want[i] ?? 0));
  }
  return Number.isNaN(diff) ? Number.POSITIVE_INFINITY : diff / scale;
}

/** Asserts wasm (with whatever kernels are registered) matches cpu within `tol` for every output. */
export async function expectMatchesCpu(label: string, compute: () => tf.Tensor[], tol = 1e-4): Promise<void> {
  const want = await runOn('cpu', compute);
  const got = await runOn('wasm', compute);
  expect(got.length, label).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    expect(got[i]!.length, `${label} output ${i} size`).toBe(want[i]!.length);
    expect(relativeError(got[i]!, want[i]!), `${label} output ${i}`).toBeLessThanOrEqual(tol);
  }
}
