/**
 * Per-IP rate limits of the embedded Auth service: a token bucket per client address that holds
 * `limit` requests and refills `limit` per 5 minutes, as `[auth.rate_limit]` in config.toml states
 * its numbers. (GoTrue's tollbooth limiters refill at the same rate; their burst is fixed at 30.)
 * Over the limit: 429 `over_request_rate_limit`. Buckets of idle addresses are dropped.
 */
import { AuthError } from './errors.ts';

const WINDOW_MS = 5 * 60 * 1000;

export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly limit: number, private readonly now = () => Date.now()) {}

  /** Takes one request from `key`'s bucket, or throws 429. */
  take(key: string) {
    const now = this.now();
    const refillPerMs = this.limit / WINDOW_MS;
    const bucket = this.buckets.get(key) ?? { tokens: this.limit, at: now };
    bucket.tokens = Math.min(this.limit, bucket.tokens + (now - bucket.at) * refillPerMs);
    bucket.at = now;
    if (bucket.tokens < 1) {
      this.buckets.set(key, bucket);
      throw new AuthError(429, 'over_request_rate_limit', 'Request rate limit reached');
    }
    bucket.tokens -= 1;
    if (this.buckets.size >= 10_000) this.dropFull(now);
    this.buckets.set(key, bucket);
  }

  private dropFull(now: number) {
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + (now - bucket.at) * (this.limit / WINDOW_MS) >= this.limit) this.buckets.delete(key);
    }
  }
}
