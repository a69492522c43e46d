/**
 * Seeded randomness for the oracles. A draw is a pure function of (seed, counter) so that the
 * sequence survives restarts: the counter is persisted with the oracle state in the study.
 */
import { seededRandom } from '@tuneserve/client';

/** A splitmix32-style finaliser of the pair: a well-mixed 32-bit seed per (seed, counter). */
function pairSeed(seed: number, counter: number): number {
  let h = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(counter >>> 0, 0x85ebca77)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** A uniform number in [0, 1) determined by the seed and the counter: the first draw of the pair's generator. */
export function seededUniform(seed: number, counter: number): number {
  return seededRandom(pairSeed(seed, counter))();
}

/** A random seed in [1, 10000], as Keras Tuner picks when none is given. */
export function randomSeed(): number {
  return 1 + Math.floor(Math.random() * 10000);
}
