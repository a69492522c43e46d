/** A small seeded PRNG (mulberry32): the GP's restarts and acquisition starts must be reproducible. */
export type Random = () => number;

export function createRandom(seed: number): Random {
  let state = seed >>> 0 || 0x9e3779b9;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A point drawn uniformly from the unit cube [0,1]^d. */
export function randomPoint(random: Random, dims: number): number[] {
  return Array.from({ length: dims }, () => random());
}
