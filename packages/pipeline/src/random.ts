/**
 * Run-wide seeding (Keras' `set_random_seed`). TF.js draws every unseeded random number from `Math.random`: weight
 * initialisers without a seed, `fit`'s shuffle, dropout masks, `tf.randomUniform`. So do the pipeline's own
 * augmentations. Replacing `Math.random` with a seeded generator (the project's one: @tuneserve/client's
 * seededRandom) for the length of a run makes all of them reproducible at once, without touching each layer.
 */
import { seededRandom } from '@tuneserve/client';

/**
 * Runs `fn` with `Math.random` replaced by a generator seeded with `seed` (restored afterwards, also on errors);
 * without a seed it just runs `fn`. Everything in the process that calls `Math.random` meanwhile draws from the
 * seeded stream, which is what makes a run reproducible, and also why the stream must not be shared with
 * unrelated concurrent work (the CLI runs one pipeline per process).
 */
export async function withSeed<T>(seed: number | undefined, fn: () => Promise<T>): Promise<T> {
  if (seed === undefined) return fn();
  const original = Math.random;
  Math.random = seededRandom(seed);
  try {
    return await fn();
  } finally {
    Math.random = original;
  }
}
