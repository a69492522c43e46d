/**
 * The project's one seeded generator (mulberry32: 32-bit state, period 2^32, a few integer operations a draw).
 * It lives here, the lowest package, so that data splits, the tuner's samplers and a run's seeding
 * (pipeline's withSeed) all draw from the same, machine- and Node-independent stream: nothing here needs
 * cryptographic quality, only reproducibility.
 */

/** A uniform generator of numbers in [0, 1) seeded with `seed` (taken as an unsigned 32-bit integer). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
