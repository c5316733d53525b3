/**
 * Pushing changes: encrypt, batch, send with retries.
 *
 * - Every change gets its id (the caller's, or crypto.randomUUID()) and is encrypted ONCE, before
 *   the first attempt; a retry resends exactly the same bytes, and the server stores each id once
 *   (a repeat reports `duplicate: true` with the original sequence). So a push whose response was
 *   lost is retried safely. To be safe across app restarts too, give changes the id of your CRDT log
 *   entry, or persist the result of `encryptChanges` with your pending changes and push that.
 * - Batches respect the server's limits: at most `maxCount` logs (default and maximum 1000) and at
 *   most `maxBytes` characters of encryptedData per request (default 4 MiB, at most 16 MiB, the
 *   server's limit). A single log is at most 524,288 characters (log-crypto.ts), so it always fits.
 * - Batches go one after another, in order; a batch failing for good stops the push and throws
 *   (earlier batches stay stored — pushing everything again is harmless).
 * - Retries: see retry.ts (network, 408, 429, 5xx; never other 4xx).
 */
import { UsageError } from './errors.ts';
import { SQL_LIMITS } from './limits.ts';
import { type Change, encryptChange, type EncryptedLog } from './log-crypto.ts';
import { type RetryPolicy, withRetry } from './retry.ts';
import type { PushResult, SyncTransport } from './transport/types.ts';

export const MAX_LOGS_PER_PUSH = SQL_LIMITS.maxLogsPerPush;
export const MAX_PUSH_BYTES = SQL_LIMITS.maxPushDataChars;
export const DEFAULT_PUSH_BYTES = 4 * 1024 * 1024;

export interface BatchOptions {
  /** Logs per request, 1..1000 (default 1000). */
  maxCount?: number;
  /** Characters of encryptedData per request, up to 16 MiB (default 4 MiB). */
  maxBytes?: number;
}

export interface PushOptions extends BatchOptions {
  retry?: RetryPolicy;
  signal?: AbortSignal;
  /** Called after each stored batch. */
  onBatch?: (result: PushResult, batch: readonly EncryptedLog[]) => void | Promise<void>;
}

/** Splits logs into consecutive batches within the count and byte limits (order kept). */
export function planBatches<T extends Pick<EncryptedLog, 'encryptedData'>>(logs: readonly T[],
  options: BatchOptions = {}): T[][] {
  const maxCount = options.maxCount ?? MAX_LOGS_PER_PUSH;
  const maxBytes = options.maxBytes ?? DEFAULT_PUSH_BYTES;
  if (!Number.isInteger(maxCount) || maxCount < 1 || maxCount > MAX_LOGS_PER_PUSH) {
    throw new UsageError(`maxCount must be 1 to ${MAX_LOGS_PER_PUSH}`);
  }
  if (!Number.isInteger(maxBytes) || maxBytes < 1 || maxBytes > MAX_PUSH_BYTES) {
    throw new UsageError(`maxBytes must be 1 to ${MAX_PUSH_BYTES}`);
  }
  const batches: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const log of logs) {
    const size = log.encryptedData.length;
    if (current.length > 0 && (current.length >= maxCount || bytes + size > maxBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(log); // a log larger than maxBytes goes alone (it is within the server's per-log limit)
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** Encrypts changes (assigning ids), ready to push now or to persist and push later. */
export async function encryptChanges(key: CryptoKey, vaultId: string, changes: readonly Change[],
  defaults: { deviceId?: string | null; keyGeneration?: number } = {}): Promise<EncryptedLog[]> {
  return Promise.all(changes.map((c) =>
    encryptChange(key, vaultId, c.deviceId === undefined && defaults.deviceId != null ? { ...c, deviceId: defaults.deviceId } : c,
      defaults.keyGeneration)));
}

/** Pushes already-encrypted logs in batches with retries. Result lists every log in order. */
export async function pushEncrypted(transport: SyncTransport, vaultId: string, logs: readonly EncryptedLog[],
  options: PushOptions = {}): Promise<PushResult> {
  const result: PushResult = { lastSequence: 0, logs: [] };
  for (const batch of planBatches(logs, options)) {
    const answer = await withRetry(() => transport.push(vaultId, batch), options.retry, options.signal);
    result.lastSequence = answer.lastSequence;
    result.logs.push(...answer.logs);
    if (answer.compactionDue) result.compactionDue = true;
    await options.onBatch?.(answer, batch);
  }
  return result;
}

/** Encrypts (ids fixed before the first attempt) and pushes. */
export async function pushChanges(transport: SyncTransport, key: CryptoKey, vaultId: string,
  changes: readonly Change[], options: PushOptions & { deviceId?: string | null } = {}): Promise<PushResult> {
  const logs = await encryptChanges(key, vaultId, changes, options);
  return pushEncrypted(transport, vaultId, logs, options);
}
