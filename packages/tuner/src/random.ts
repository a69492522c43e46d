/**
 * Seeded randomness for the oracles. A draw is a pure function of (seed, counter) so that the
 * sequence survives restarts: the counter is persisted with the oracle state in the study.
 */

function mix(seed: number, counter: number): number {
  // splitmix32-style finaliser of the pair, then one mulberry32 step.
  let h = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(counter >>> 0, 0x85ebca77)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  let t = (h + 0x6d2b79f5) >>> 0;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/** A uniform number in [0, 1) determined by the seed and the counter. */
export function seededUniform(seed: number, counter: number): number {
  return mix(seed, counter);
}

/** A random seed in [1, 10000], as Keras Tuner picks when none is given. */
export function randomSeed(): number {
  return 1 + Math.floor(Math.random() * 10000);
}
