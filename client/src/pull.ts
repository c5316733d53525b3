/**
 * Pulling: an async iterator of decrypted pages after a cursor.
 *
 *   for await (const page of pullPages(transport, key, vaultId, { afterSequence })) {
 *     apply(page.logs); persist(page.nextSequence);
 *   }
 *
 * - One page in memory at a time: the next page is requested only when the consumer asks for it,
 *   so memory does not grow with the vault's size.
 * - Sequences of a vault are gap-free from 1 (server invariant). Every log must be exactly
 *   cursor + 1; anything else (a skipped, repeated or reordered log, or "hasMore" with an empty page)
 *   throws SequenceGapError instead of silently skipping. The cursor never advances past a log that
 *   was not decrypted and handed over.
 * - Every log is authenticated (log-crypto.ts); one that fails throws LogDecryptionError naming it,
 *   and iteration stops there (the page with it is not yielded, so the cursor stays before it).
 * - Page size 1..1000 (default 500). Requests retry per retry.ts.
 * - Only non-empty pages are yielded; an up-to-date vault yields nothing.
 */
import { SequenceGapError, UsageError } from './errors.ts';
import { decryptLog, type DecryptedLog } from './log-crypto.ts';
import { type RetryPolicy, withRetry } from './retry.ts';
import type { SyncTransport } from './transport/types.ts';

export const MAX_PAGE_SIZE = 1000;
export const DEFAULT_PAGE_SIZE = 500;

export interface PullOptions {
  /** Cursor: the last sequence already applied (default 0 = from the start). */
  afterSequence?: number;
  /** Logs per request, 1..1000 (default 500). */
  pageSize?: number;
  retry?: RetryPolicy;
  signal?: AbortSignal;
}

export interface PullPage {
  logs: DecryptedLog[];
  /** Sequence of the last log of this page: persist it as the cursor once the page is applied. */
  nextSequence: number;
  hasMore: boolean;
}

export async function* pullPages(transport: SyncTransport, key: CryptoKey, vaultId: string,
  options: PullOptions = {}): AsyncGenerator<PullPage, void, undefined> {
  let cursor = options.afterSequence ?? 0;
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  if (!Number.isSafeInteger(cursor) || cursor < 0) throw new UsageError('afterSequence must be an integer >= 0');
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
    throw new UsageError(`pageSize must be 1 to ${MAX_PAGE_SIZE}`);
  }
  for (;;) {
    const from = cursor;
    const answer = await withRetry(() => transport.pull(vaultId, from, pageSize), options.retry, options.signal);
    if (answer.logs.length > pageSize) throw new SequenceGapError(vaultId, from + pageSize + 1, answer.logs[pageSize]!.sequence);
    let expected = from + 1;
    for (const log of answer.logs) {
      if (log.sequence !== expected) throw new SequenceGapError(vaultId, expected, log.sequence);
      expected++;
    }
    const hasMore = answer.hasMore ?? answer.logs.length === pageSize;
    if (answer.logs.length === 0) {
      if (answer.hasMore) throw new SequenceGapError(vaultId, from + 1, undefined);
      return;
    }
    // Decrypt the page concurrently; report the FIRST failing log in sequence order.
    const settled = await Promise.allSettled(answer.logs.map((log) => decryptLog(key, vaultId, log)));
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    const logs = settled.map((s) => (s as PromiseFulfilledResult<DecryptedLog>).value);
    cursor = expected - 1;
    yield { logs, nextSequence: cursor, hasMore };
    if (!hasMore) return;
  }
}
