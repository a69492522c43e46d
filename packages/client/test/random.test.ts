/** The one seeded generator: a fixed stream per seed (recorded splits and seeded studies depend on it). */
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../src/index.js';

describe('seededRandom', () => {
  it('gives the mulberry32 stream for a seed, the same on every call', () => {
    const a = seededRandom(1);
    expect([a(), a(), a()]).toEqual([0.6270739405881613, 0.002735721180215478, 0.5274470399599522]);
    const b = seededRandom(1);
    expect([b(), b(), b()]).toEqual([0.6270739405881613, 0.002735721180215478, 0.5274470399599522]);
    expect(seededRandom(42)()).toBe(0.6011037519201636);
  });

  it('draws in [0, 1) and evenly', () => {
    const r = seededRandom(7);
    const bins = new Array(10).fill(0);
    for (let i = 0; i < 100_000; i++) {
      const v = r();
      expect(v >= 0 && v < 1).toBe(true);
      bins[Math.floor(v * 10)]++;
    }
    for (const n of bins) expect(Math.abs(n - 10_000)).toBeLessThan(500);
  });
});
