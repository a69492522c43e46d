/**
 * Deadlines of one fixed duration. They expire in the order they were set, so one timer, armed for the oldest
 * pending deadline, serves them all: setting and clearing a deadline costs an array push and a flag, where a
 * setTimeout/clearTimeout pair per request cost more than the rest of the deadline handling.
 */
export interface Deadline {
  /** Marks the work done; its expiry will not run. */
  clear(): void;
}

class Entry implements Deadline {
  constructor(
    readonly at: number,
    public expire: (() => void) | undefined,
  ) {}

  clear(): void {
    this.expire = undefined;
  }
}

export class Deadlines {
  private entries: Entry[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(readonly durationMs: number) {}

  /** Calls `expire` after durationMs unless the returned deadline is cleared first. */
  start(expire: () => void): Deadline {
    const entry = new Entry(performance.now() + this.durationMs, expire);
    this.entries.push(entry);
    this.timer ??= this.arm(this.durationMs);
    return entry;
  }

  /** Pending deadlines, cleared ones at the head excluded (for tests and metrics). */
  get pending(): number {
    this.dropCleared();
    return this.entries.length - this.head;
  }

  /** Drops cleared entries from the head; compacts the array once most of it is dead. */
  private dropCleared(): void {
    while (this.head < this.entries.length && this.entries[this.head]?.expire === undefined) this.head++;
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }

  private arm(ms: number): NodeJS.Timeout {
    const timer = setTimeout(() => this.fire(), Math.max(1, Math.ceil(ms)));
    timer.unref(); // a pending deadline alone must not keep the process alive
    return timer;
  }

  private fire(): void {
    this.timer = undefined;
    const now = performance.now();
    for (;;) {
      this.dropCleared();
      const entry = this.entries[this.head];
      if (!entry) break;
      if (entry.at > now) {
        this.timer = this.arm(entry.at - now);
        break;
      }
      const expire = entry.expire;
      entry.expire = undefined;
      expire?.();
    }
  }
}
