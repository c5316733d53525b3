/**
 * Retry policy: exponential backoff with jitter, for requests that failed with a retryable
 * TransportError (network error, 408, 429, 5xx). Never for 4xx answers (NotFound, Conflict,
 * Validation, 401/403): repeating those cannot succeed.
 *
 * Delay before retry n (n = 1, 2, ...): d = min(maxDelayMs, baseDelayMs * 2^(n-1)), then "equal
 * jitter": uniformly in [d/2, d]. If the server sent Retry-After, wait at least that long (capped at
 * maxRetryAfterMs, so a hostile or broken header cannot park the client for hours).
 * Only requests that are safe to repeat go through here: pushes carry client-chosen log ids (the
 * server stores each id once) and pulls are reads.
 */
import { isRetryable, TransportError } from './errors.ts';

export interface RetryPolicy {
  /** Attempts in total, including the first (default 6). 1 disables retries. */
  maxAttempts?: number;
  /** Default 250 ms. */
  baseDelayMs?: number;
  /** Default 30 s. */
  maxDelayMs?: number;
  /** Longest Retry-After honoured (default 120 s). */
  maxRetryAfterMs?: number;
  /** For tests: source of randomness in [0, 1) (default Math.random). */
  random?: () => number;
  /** For tests: how to wait (default setTimeout, abortable). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Called before each wait. */
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
}

export const DEFAULT_RETRY: Required<Omit<RetryPolicy, 'onRetry'>> = {
  maxAttempts: 6,
  baseDelayMs: 250,
  maxDelayMs: 30_000,
  maxRetryAfterMs: 120_000,
  random: Math.random,
  sleep: (ms, signal) => new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    const onAbort = () => { clearTimeout(timer); reject(signal!.reason); };
    signal?.addEventListener('abort', onAbort, { once: true });
  }),
};

/** Delay before retry number `retry` (1-based). */
export function backoffDelay(retry: number, policy: RetryPolicy = {}, retryAfterMs?: number): number {
  const p = { ...DEFAULT_RETRY, ...policy };
  const ceiling = Math.min(p.maxDelayMs, p.baseDelayMs * 2 ** Math.max(0, retry - 1));
  let delay = ceiling / 2 + p.random() * (ceiling / 2);
  if (retryAfterMs !== undefined && retryAfterMs > 0) delay = Math.max(delay, Math.min(retryAfterMs, p.maxRetryAfterMs));
  return Math.round(delay);
}

/** Runs `fn`, retrying retryable failures per the policy. Rethrows the last error. */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, policy: RetryPolicy = {},
  signal?: AbortSignal): Promise<T> {
  const p = { ...DEFAULT_RETRY, ...policy };
  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (error) {
      if (!isRetryable(error) || attempt >= p.maxAttempts) throw error;
      const delayMs = backoffDelay(attempt, p, (error as TransportError).retryAfterMs);
      policy.onRetry?.({ attempt, delayMs, error });
      await p.sleep(delayMs, signal);
    }
  }
}
