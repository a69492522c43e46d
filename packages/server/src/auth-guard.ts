/**
 * Failed authentications per client address in a fixed window: once an address has failed `max` times, every
 * request of it that needs a key is refused (429) until the window ends, a correct key included, so a guesser
 * learns nothing from the answers. Written here rather than with @fastify/rate-limit because that counts every
 * request as it arrives, while this must count only failures, known after the key was checked.
 */
export interface FailureLimit {
  /** Failures allowed per address per window (0: no limit). */
  max: number;
  windowMs: number;
}

interface Window {
  failures: number;
  endsAt: number;
}

export class AuthFailureGuard {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly limit: FailureLimit,
    /** Most addresses tracked; past it the oldest windows are forgotten first, so memory stays bounded. */
    private readonly capacity = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  get enabled(): boolean {
    return this.limit.max > 0;
  }

  /** Milliseconds until `address` may try again, 0 when it may now. */
  blockedFor(address: string): number {
    const w = this.windows.get(address);
    if (!w) return 0;
    const left = w.endsAt - this.now();
    if (left <= 0) {
      this.windows.delete(address);
      return 0;
    }
    return w.failures >= this.limit.max ? left : 0;
  }

  /** Counts a failure; returns how long the address is now blocked (0: not blocked yet). */
  fail(address: string): number {
    if (!this.enabled) return 0;
    const now = this.now();
    let w = this.windows.get(address);
    if (!w || w.endsAt <= now) {
      this.windows.delete(address);
      this.makeRoom(now);
      w = { failures: 0, endsAt: now + this.limit.windowMs };
      this.windows.set(address, w);
    }
    w.failures++;
    return w.failures >= this.limit.max ? w.endsAt - now : 0;
  }

  private makeRoom(now: number): void {
    if (this.windows.size < this.capacity) return;
    for (const [address, w] of this.windows) if (w.endsAt <= now) this.windows.delete(address);
    // Still full: forget the oldest windows (a Map iterates in insertion order).
    for (const address of this.windows.keys()) {
      if (this.windows.size < this.capacity) break;
      this.windows.delete(address);
    }
  }
}
