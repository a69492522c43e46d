/**
 * Keeps one running trial's lease alive by writing a heartbeat every `intervalSeconds`. When a
 * heartbeat finds the lease gone (the trial was re-queued because this worker looked dead), it
 * stops and reports it once through `onLost`, so the trial can be abandoned instead of wasting work
 * whose result would be rejected anyway. Transient database errors are retried on the next tick:
 * only the grace period, judged by the database, decides that a worker is dead.
 */
import { type Lease, LeaseLostError } from './study-store.js';

export interface HeartbeatTarget {
  heartbeat(lease: Lease): Promise<void>;
}

export class TrialHeartbeat {
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private lostError: LeaseLostError | undefined;

  constructor(
    private readonly store: HeartbeatTarget,
    readonly lease: Lease,
    private readonly intervalSeconds: number,
    private readonly onLost: (error: LeaseLostError) => void = () => undefined,
  ) {}

  get lost(): boolean {
    return this.lostError !== undefined;
  }

  start(): this {
    if (this.timer) return this;
    this.timer = setInterval(() => this.beat(), this.intervalSeconds * 1000);
    // A pending heartbeat must not keep a finished worker process alive.
    this.timer.unref();
    return this;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }

  private beat(): void {
    if (this.inFlight || this.lostError) return;
    this.inFlight = this.store
      .heartbeat(this.lease)
      .catch((error: unknown) => {
        if (error instanceof LeaseLostError) {
          this.lostError = error;
          if (this.timer) clearInterval(this.timer);
          this.timer = undefined;
          this.onLost(error);
        }
      })
      .finally(() => {
        this.inFlight = undefined;
      });
  }
}
