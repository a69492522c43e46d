/** The GP's randomness (restarts, acquisition starts): the project's one seeded generator, so runs reproduce. */
import { seededRandom } from '@tuneserve/client';

export type Random = () => number;

/** A seeded generator (@tuneserve/client's seededRandom). */
export const createRandom: (seed: number) => Random = seededRandom;

/** A point drawn uniformly from the unit cube [0,1]^d. */
export function randomPoint(random: Random, dims: number): number[] {
  return Array.from({ length: dims }, () => random());
}
