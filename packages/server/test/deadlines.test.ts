/** One timer for all deadlines of a fixed duration: expiry in order, cleared ones never run. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Deadlines } from '../src/deadlines.js';

describe('Deadlines', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('expires the deadlines that were not cleared, each once and in the order they were set', () => {
    const deadlines = new Deadlines(100);
    const expired: number[] = [];
    const handles = [0, 1, 2, 3].map((i) => deadlines.start(() => expired.push(i)));
    handles[1]?.clear();
    vi.advanceTimersByTime(50);
    const late = deadlines.start(() => expired.push(4)); // due 50 ms after the others: the timer must re-arm
    vi.advanceTimersByTime(49);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(2);
    expect(expired).toEqual([0, 2, 3]);
    vi.advanceTimersByTime(48);
    expect(expired).toEqual([0, 2, 3]);
    vi.advanceTimersByTime(2);
    expect(expired).toEqual([0, 2, 3, 4]);
    late.clear(); // clearing an expired deadline is harmless
    vi.advanceTimersByTime(1000);
    expect(expired).toEqual([0, 2, 3, 4]);
    expect(deadlines.pending).toBe(0);
  });

  it('runs nothing when every deadline is cleared in time, and drops the entries', () => {
    const deadlines = new Deadlines(20);
    let expired = 0;
    for (let i = 0; i < 5000; i++) deadlines.start(() => expired++).clear();
    expect(deadlines.pending).toBe(0);
    vi.advanceTimersByTime(100);
    expect(expired).toBe(0);
  });
});
