/**
 * Pulling: an async iterator of decrypted pages after a cursor.
 *
 *   for await (const page of pullPages(transport, key, vaultId, { afterSequence })) {
 *     apply(page.logs); persist(page.nextSequence);
 *   }
 *
 * - At most two pages in memory: as soon as a page has arrived, the next one (after its last
 *   sequence) is requested and sent, and only then is this page decrypted (aes-gcm.ts: node:crypto on
 *   Node, WebCrypto elsewhere), so the server's work on the next page overlaps this page's decryption
 *   and the consumer's work; nothing further is requested until the consumer asks for the next page.
 *   Where the runtime has a core to spare, the cipher step runs in a worker (decrypt-worker.ts;
 *   option decryptWorker), so this thread receives and parses the next page meanwhile.
 *   Memory does not grow with the vault's size. (A consumer that stops early leaves one page fetched
 *   for nothing.)
 * - Each answer carries the page's state from the server, read in the snapshot of the page:
 *   `hasMore`, `nextSequence` (the cursor to continue from) and the vault's `lastSequence`. The pull
 *   follows `nextSequence` and stops when `hasMore` is false: never a guess from the page length.
 *   Pages end at the server's row limit and at its byte budget (8 MiB of log fields, always at least
 *   one log), so a page may hold fewer logs than `pageSize` while more follow.
 * - Sequences of a vault are assigned gap-free from 1 (server invariant); compaction removes
 *   superseded logs only at or below the page's `compactedThrough`. Every log must be exactly
 *   cursor + 1 or skip only sequences at or below compactedThrough (a compacted gap; any other
 *   missing sequence, also in a tail without logs, is a lost log), and the state must agree (nextSequence from the last log up to lastSequence, hasMore
 *   exactly when nextSequence < lastSequence, no empty page with hasMore); anything else throws
 *   SequenceGapError instead of silently skipping. The cursor never advances past a log that was not
 *   decrypted and handed over.
 * - A cursor beyond the vault's last sequence throws CursorAheadError, a vault that is gone (deleted,
 *   or not the user's) NotFoundError (see errors.ts for what an app does then).
 * - Every log is authenticated (log-crypto.ts); one that fails throws LogDecryptionError naming it,
 *   and iteration stops there (the page with it is not yielded, so the cursor stays before it).
 * - Shared vaults: each log names its key generation (absent: 1). `key` is the vault key, or a
 *   function giving the key of a generation (a Vault's key ring, which fetches the grant of a newer
 *   generation when it meets one); a page of one generation is decrypted in one pass.
 * - Page size 1..1000 (default 1000). Requests retry per retry.ts.
 * - Only pages that move the cursor are yielded (with logs, or, once a vault's tail holds no logs,
 *   without); an up-to-date vault yields nothing.
 */
import { SequenceGapError, UsageError } from './errors.ts';
import { SQL_LIMITS } from './limits.ts';
import { sharedPageWorker } from './decrypt-worker.ts';
import { type DecryptedLog, logDecryptor, type StoredLog } from './log-crypto.ts';
import { type RetryPolicy, withRetry } from './retry.ts';
import type { SyncTransport } from './transport/types.ts';

export const MAX_PAGE_SIZE = SQL_LIMITS.maxPullCount;
export const DEFAULT_PAGE_SIZE = SQL_LIMITS.maxPullCount;

export interface PullOptions {
  /** Cursor: the last sequence already applied (default 0 = from the start). */
  afterSequence?: number;
  /** Logs per request, 1..1000 (default 1000). */
  pageSize?: number;
  retry?: RetryPolicy;
  signal?: AbortSignal;
  /**
   * Decrypt pages in a worker thread (decrypt-worker.ts) where the runtime has a core to spare
   * (default true); false: always in this thread. Same results and errors either way.
   */
  decryptWorker?: boolean;
}

export interface PullPage {
  logs: DecryptedLog[];
  /** The cursor after this page (the server's nextSequence): persist it once the page is applied. */
  nextSequence: number;
  hasMore: boolean;
  /** The vault's last sequence when this page was read (e.g. for progress). */
  lastSequence: number;
}

/** The key of a key generation (shared vaults); rejects when the caller holds no grant for it. */
export type KeyForGeneration = (generation: number) => Promise<CryptoKey>;

export async function* pullPages(transport: SyncTransport, key: CryptoKey | KeyForGeneration, vaultId: string,
  options: PullOptions = {}): AsyncGenerator<PullPage, void, undefined> {
  let cursor = options.afterSequence ?? 0;
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  if (!Number.isSafeInteger(cursor) || cursor < 0) throw new UsageError('afterSequence must be an integer >= 0');
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
    throw new UsageError(`pageSize must be 1 to ${MAX_PAGE_SIZE}`);
  }
  const worker = options.decryptWorker === false ? undefined : sharedPageWorker();
  const decryptors = new Map<number, Promise<ReturnType<typeof logDecryptor>>>();
  const decryptorFor = (generation: number) => {
    let d = decryptors.get(generation);
    if (!d) {
      d = typeof key === 'function'
        ? key(generation).then((k) => logDecryptor(k, vaultId, undefined, generation, worker))
        : Promise.resolve(logDecryptor(key, vaultId, undefined, generation, worker));
      decryptors.set(generation, d);
      d.catch(() => decryptors.delete(generation)); // a missing grant may arrive later: ask again next time
    }
    return d;
  };
  interface Fetched { logs: StoredLog[]; nextSequence: number; hasMore: boolean; lastSequence: number }
  /** Fetches the page after `from` and checks its sequences and state; undefined when the vault has nothing after `from`. */
  const fetchAfter = async (from: number): Promise<Fetched | undefined> => {
    const answer = await withRetry(() => transport.pull(vaultId, from, pageSize), options.retry, options.signal);
    if (answer.logs.length > pageSize) throw new SequenceGapError(vaultId, from + pageSize + 1, answer.logs[pageSize]!.sequence);
    // Compaction removes logs only at or below compactedThrough: a skipped range all at or below it
    // is compacted; any other missing sequence is a lost log.
    const compactedThrough = answer.compactedThrough ?? 0;
    let expected = from + 1;
    for (const log of answer.logs) {
      if (log.sequence !== expected && !(log.sequence > expected && log.sequence - 1 <= compactedThrough)) {
        throw new SequenceGapError(vaultId, expected, log.sequence);
      }
      expected = log.sequence + 1;
    }
    const { hasMore, nextSequence, lastSequence } = answer;
    if (answer.logs.length === 0 && hasMore) throw new SequenceGapError(vaultId, from + 1, undefined);
    // The state must fit the logs: the cursor moves to the last log or beyond it (a tail without logs),
    // never past the vault's end, and "more" means exactly that the end is not reached.
    if (!Number.isSafeInteger(nextSequence) || nextSequence < expected - 1 || nextSequence > lastSequence
      || hasMore !== (nextSequence < lastSequence) || (hasMore && nextSequence !== expected - 1)) {
      throw new SequenceGapError(vaultId, expected, nextSequence);
    }
    // A tail without logs (expected .. nextSequence) must be compacted too.
    if (nextSequence >= expected && nextSequence > compactedThrough) throw new SequenceGapError(vaultId, expected, nextSequence);
    if (answer.logs.length === 0 && nextSequence === from) return undefined;
    return { logs: answer.logs, nextSequence, hasMore, lastSequence };
  };
  /** Decrypts a page; rejects with the FIRST failing log in sequence order. */
  const decryptPage = async (logs: readonly StoredLog[]): Promise<DecryptedLog[]> => {
    const first = logs[0]?.keyGeneration ?? 1;
    if (logs.every((l) => (l.keyGeneration ?? 1) === first)) return await (await decryptorFor(first)).pageAll(logs);
    const pending = logs.map((l) => decryptorFor(l.keyGeneration ?? 1).then((d) => d.one(l)));
    try {
      return await Promise.all(pending);
    } catch {
      const settled = await Promise.allSettled(pending);
      throw (settled.find((s) => s.status === 'rejected') as PromiseRejectedResult).reason;
    }
  };
  const start = (from: number) => {
    const fetched = fetchAfter(from);
    fetched.catch(() => {}); // a prefetched page nobody awaits (the consumer stopped early) must not go unhandled
    return fetched;
  };
  let next = start(cursor);
  for (;;) {
    const page = await next;
    if (!page) return;
    // Request the page after this one before decrypting this one (its start is known: sequences were
    // checked), and let the request leave before decryption (synchronous with node:crypto) takes
    // the thread: the server works on the next page while this one is decrypted. Nothing beyond it is
    // requested until the consumer asks for more.
    if (page.hasMore) {
      next = start(page.nextSequence);
      await yieldToEventLoop();
    }
    const logs = await decryptPage(page.logs);
    cursor = page.nextSequence;
    yield { logs, nextSequence: cursor, hasMore: page.hasMore, lastSequence: page.lastSequence };
    if (!page.hasMore) return;
  }
}

/** One turn of the event loop (I/O included; MessageChannel exists in browsers, Node and Deno). */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(undefined);
  });
}
