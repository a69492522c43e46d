/**
 * The request rate limit (`--rate-limit`): requests per fixed window per bucket, one bucket per verified API
 * key, else per client address — never per unverified key, or every guessed key would get a fresh budget.
 * One instance serves both protocols: @fastify/rate-limit counts HTTP requests in it (as its store) and the
 * gRPC server counts its calls in it too, so a client has one budget whichever protocol it uses.
 */
import type { FastifyRateLimitStore } from '@fastify/rate-limit';
import { sha256 } from './auth.js';

export interface RateLimit {
  /** Requests per window per bucket. */
  max: number;
  windowMs: number;
}

interface Window {
  count: number;
  endsAt: number;
}

/** The bucket of a request: its verified key's digest, or its client address. */
export function rateBucket(verifiedKeyDigest: string | null, address: string): string {
  return verifiedKeyDigest ? `key:${verifiedKeyDigest}` : `ip:${address}`;
}

/** The short digest a verified key is known by (logs and buckets never hold the key itself). */
export const keyDigest = (key: string): string => sha256(key).toString('hex').slice(0, 32);

export class RequestRateLimiter {
  private readonly windows = new Map<string, Window>();

  constructor(
    readonly limit: RateLimit,
    /** Most buckets tracked; past it the least recently used are forgotten, so memory stays bounded. */
    private readonly capacity = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts one request of the bucket: how many it has made in this window, and the ms until the window ends. */
  hit(bucket: string): { current: number; ttl: number } {
    const now = this.now();
    let w = this.windows.get(bucket);
    if (!w || w.endsAt <= now) w = { count: 0, endsAt: now + this.limit.windowMs };
    w.count++;
    // Re-inserted so the Map's order is least recently used first.
    this.windows.delete(bucket);
    this.windows.set(bucket, w);
    if (this.windows.size > this.capacity) {
      const oldest = this.windows.keys().next().value;
      if (oldest !== undefined) this.windows.delete(oldest);
    }
    return { current: w.count, ttl: w.endsAt - now };
  }

  /** A store class for @fastify/rate-limit that counts in this limiter (every route shares it). */
  fastifyStore(): new () => FastifyRateLimitStore {
    const limiter = this;
    return class SharedStore implements FastifyRateLimitStore {
      incr(key: string, callback: (error: Error | null, result?: { current: number; ttl: number }) => void): void {
        callback(null, limiter.hit(key));
      }
      child(): FastifyRateLimitStore {
        return this;
      }
    };
  }
}
