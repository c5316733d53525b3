/**
 * Encryption of CRDT log entries. The server stores and orders them but never sees their content.
 *
 * Wire format of one log (push_logs / POST /push, pull_logs / POST /pull):
 *   id             = UUID chosen by the client before the first push attempt (idempotency key)
 *   nonce          = base64 of 12 random bytes, fresh for every encryption           (16 chars)
 *   encrypted_data = base64 of AES-256-GCM(vaultKey, nonce, plaintext, aad) = ciphertext + 16-byte tag
 *   plaintext      = UTF-8 of JSON.stringify(data)  (any JSON value the app hands over)
 *   haex_timestamp = the change's HLC timestamp, in clear text (the server orders and filters by it)
 *   device_id      = optional, in clear text
 *   record_key     = optional: opaque base64url name of what the change overwrites (record-key.ts), from
 *                    the change's `key`; the server compacts logs by it (compact_logs)
 *   aad            = without a record key (v1):
 *                      UTF-8 of "haex-sync/log/v1" 0x00 vaultId 0x00 logId 0x00 haexTimestamp 0x00 deviceId
 *                    with a record key (v2):
 *                      UTF-8 of "haex-sync/log/v2" 0x00 vaultId 0x00 logId 0x00 haexTimestamp 0x00 deviceId
 *                      0x00 recordKey
 *                    under a key generation g > 1 (shared vaults after a rotation, docs/sharing.md) (v3):
 *                      UTF-8 of "haex-sync/log/v3" 0x00 vaultId 0x00 g 0x00 logId 0x00 haexTimestamp 0x00 deviceId
 *                      0x00 recordKey (empty without one)
 *                    (UUIDs in lower-case canonical form; a missing deviceId is the empty string)
 *   key_generation = the generation of the vault key (absent: 1). v1/v2 mean generation 1, v3 names it,
 *                    so a log relabelled to another generation fails authentication.
 *
 * What the AAD buys: a log altered in any byte, copied into another vault, given another id, or
 * whose timestamp or device id the server rewrote fails GCM authentication -> LogDecryptionError
 * naming the log id and sequence. Because haex_timestamp is authenticated, the server cannot
 * reorder the CRDT history by rewriting timestamps. The AAD version follows the presence of a record
 * key, and v2 binds it: the server can neither move a log to another record key, nor strip a record
 * key (v2 log read as v1) nor add one (v1 log read as v2): each fails authentication. Logs of v1
 * (pushed before record keys, or by an app that opted out) decrypt as before.
 * The fields are separated by NUL, which none of
 * them may contain (UUIDs cannot; timestamps and device ids with NUL are refused here and by the
 * server), so the encoding is unambiguous.
 *
 * NOT protected (by design of a server-ordered log): the server-assigned `sequence` and
 * `created_at`; the server can withhold logs, or serve one log twice (apply changes idempotently,
 * e.g. by log id / HLC, as a CRDT does anyway). The length of the plaintext is visible (no padding).
 *
 * Limits: encrypted_data at most 524,288 base64 characters, i.e. plaintext at most 393,200 bytes
 * of JSON; haex_timestamp 1..128 characters, device_id 0..128 characters, no NUL.
 * Nonces are random 96-bit values: NIST SP 800-38D bounds random nonces to 2^32 encryptions per
 * key, i.e. four billion changes per vault before a key rotation would be needed.
 */
import { LogDecryptionError, UsageError } from './errors.ts';
import { isRecordKey, MAX_RECORD_KEY_CHARS, recordKeyFor } from './record-key.ts';
import {
  base64ByteLength, canonicalUuid, decodeBase64Into, fromUtf8, isCanonicalUuid, randomBytes, subtle, toBase64, utf8,
  utf8Into,
} from './encoding.ts';
import { SQL_LIMITS } from './limits.ts';
import { defaultLogCipher, type LogCipher } from './aes-gcm.ts';
import { ENTRY_INTS, MIN_WORKER_LOGS, type PageWorker, type WorkerPage } from './decrypt-worker.ts';

/** A log decoded into the page's slab: the cipher's inputs, or the log's rejection when malformed. */
interface Prepared {
  at: number;
  failed?: Promise<never>;
  nonce?: Uint8Array<ArrayBuffer>;
  aad?: Uint8Array<ArrayBuffer>;
  sealed?: Uint8Array<ArrayBuffer>;
}

export const LOG_AAD_PREFIX = 'haex-sync/log/v1';
/** AAD version of logs with a record key. */
export const LOG_AAD_PREFIX_V2 = 'haex-sync/log/v2';
/** AAD version of logs under a key generation above 1 (shared vaults). */
export const LOG_AAD_PREFIX_V3 = 'haex-sync/log/v3';
export const LOG_NONCE_BYTES = 12;
export const GCM_TAG_BYTES = 16;
export const MAX_ENCRYPTED_DATA_CHARS = SQL_LIMITS.maxLogDataChars;
/** Largest plaintext (bytes of JSON) whose ciphertext still fits MAX_ENCRYPTED_DATA_CHARS. */
export const MAX_PLAINTEXT_BYTES = (MAX_ENCRYPTED_DATA_CHARS / 4) * 3 - GCM_TAG_BYTES;
export const MAX_HAEX_TIMESTAMP_CHARS = SQL_LIMITS.maxHaexTimestampChars;
export const MAX_DEVICE_ID_CHARS = SQL_LIMITS.maxDeviceIdChars;

/** A change the app wants to sync. */
export interface Change {
  /** Any JSON value (what JSON.stringify accepts, not undefined). */
  data: unknown;
  /** HLC timestamp of the change (1..128 characters). */
  haexTimestamp: string;
  /** Stable id; give the id of your CRDT log entry so retries across restarts never duplicate. Default: random UUID. */
  id?: string;
  deviceId?: string | null;
  /**
   * What the change overwrites (for HaexHub: table, primary key and column, e.g.
   * JSON.stringify([table, pk, column])). Sent only as an HMAC (record-key.ts) so the server can
   * drop the change once a newer one of the same key exists. Omit it to opt out of compaction.
   */
  key?: string;
}

/** A log as the server stores it (camelCase). */
export interface EncryptedLog {
  id: string;
  encryptedData: string;
  nonce: string;
  haexTimestamp: string;
  deviceId?: string | null;
  /** Opaque record key (record-key.ts), or absent/null: never compacted. */
  recordKey?: string | null;
  /** Generation of the vault key it is encrypted under; absent: 1. */
  keyGeneration?: number;
}

/** A log as pulled from the server. */
export interface StoredLog extends EncryptedLog {
  sequence: number;
  deviceId: string | null;
  createdAt: string;
}

export interface DecryptedLog {
  id: string;
  sequence: number;
  haexTimestamp: string;
  deviceId: string | null;
  /** The record key the log was pushed with (authenticated), or null. */
  recordKey: string | null;
  createdAt: string;
  data: unknown;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function checkText(value: unknown, what: string, min: number, max: number): string {
  if (typeof value !== 'string' || value.length < min || value.length > max) {
    throw new UsageError(`${what} must be a string of ${min} to ${max} characters`);
  }
  if (value.includes('\u0000') || LONE_SURROGATE.test(value)) throw new UsageError(`${what} must be well-formed text without NUL`);
  return value;
}

/**
 * "haex-sync/log/v1\0<vaultId>\0<logId>\0<haexTimestamp>\0<deviceId>" as UTF-8, or with a record key
 * "haex-sync/log/v2\0<vaultId>\0<logId>\0<haexTimestamp>\0<deviceId>\0<recordKey>".
 */
export function logAad(vaultId: string, logId: string, haexTimestamp: string, deviceId?: string | null,
  recordKey?: string | null, keyGeneration = 1): Uint8Array<ArrayBuffer> {
  if (keyGeneration > 1) {
    if (recordKey != null && !isRecordKey(recordKey)) throw new UsageError(`recordKey must be 1 to ${MAX_RECORD_KEY_CHARS} base64url characters`);
    return utf8([LOG_AAD_PREFIX_V3, canonicalUuid(vaultId, 'vaultId'), String(keyGeneration), canonicalUuid(logId, 'log id'),
      checkText(haexTimestamp, 'haexTimestamp', 1, MAX_HAEX_TIMESTAMP_CHARS),
      deviceId == null ? '' : checkText(deviceId, 'deviceId', 0, MAX_DEVICE_ID_CHARS), recordKey ?? ''].join('\u0000'));
  }
  const fields = [recordKey == null ? LOG_AAD_PREFIX : LOG_AAD_PREFIX_V2, canonicalUuid(vaultId, 'vaultId'),
    canonicalUuid(logId, 'log id'), checkText(haexTimestamp, 'haexTimestamp', 1, MAX_HAEX_TIMESTAMP_CHARS),
    deviceId == null ? '' : checkText(deviceId, 'deviceId', 0, MAX_DEVICE_ID_CHARS)];
  if (recordKey != null) {
    if (!isRecordKey(recordKey)) throw new UsageError(`recordKey must be 1 to ${MAX_RECORD_KEY_CHARS} base64url characters`);
    fields.push(recordKey);
  }
  return utf8(fields.join('\u0000'));
}

/** Encrypts one change. Assigns a random id if it has none. */
export async function encryptChange(key: CryptoKey, vaultId: string, change: Change, keyGeneration = 1): Promise<EncryptedLog> {
  const id = change.id === undefined ? globalThis.crypto.randomUUID() : canonicalUuid(change.id, 'change id');
  const deviceId = change.deviceId ?? null;
  const recordKey = change.key === undefined ? null : await recordKeyFor(key, change.key);
  const aad = logAad(vaultId, id, change.haexTimestamp, deviceId, recordKey, keyGeneration);
  const json = JSON.stringify(change.data);
  if (json === undefined) throw new UsageError(`change ${id}: data is not a JSON value`);
  const plaintext = utf8(json);
  if (plaintext.length > MAX_PLAINTEXT_BYTES) {
    throw new UsageError(`change ${id}: ${plaintext.length} bytes of JSON, at most ${MAX_PLAINTEXT_BYTES} fit in one log`);
  }
  const nonce = randomBytes(LOG_NONCE_BYTES);
  const sealed = await subtle().encrypt({ name: 'AES-GCM', iv: nonce, additionalData: aad }, key, plaintext);
  const log: EncryptedLog = {
    id, encryptedData: toBase64(new Uint8Array(sealed)), nonce: toBase64(nonce), haexTimestamp: change.haexTimestamp,
  };
  if (deviceId !== null) log.deviceId = deviceId;
  if (recordKey !== null) log.recordKey = recordKey;
  if (keyGeneration > 1) log.keyGeneration = keyGeneration;
  return log;
}

/** Decrypts and authenticates one pulled log. LogDecryptionError (with id and sequence) on any failure. */
export async function decryptLog(key: CryptoKey, vaultId: string, log: StoredLog): Promise<DecryptedLog> {
  return await logDecryptor(key, vaultId).one(log);
}

/** NUL or any surrogate: only then does a text need checkText's full (slower) look. */
const SUSPICIOUS = /[\u0000\uD800-\uDFFF]/;

/**
 * A decryptor bound to one key and vault, for decrypting many logs (a pulled page): validates the
 * vault id and encodes the fixed AAD prefixes `haex-sync/log/v1|v2 ∅ vaultId ∅` once; per log only the
 * log's own fields are checked and appended. Same checks and errors as decryptLog.
 *
 * `page(logs)` starts the decryption of every log at once and returns one promise per log (same
 * order). The nonces, ciphertexts and AADs of the page are decoded into ONE buffer (views, not one
 * ArrayBuffer per field and log: less allocation and GC). WebCrypto copies its inputs when called;
 * the buffer is never written again after a log's call anyway.
 * `cipher`: the AES-GCM backend (aes-gcm.ts): node:crypto where the runtime has it, else WebCrypto.
 * `worker` (decrypt-worker.ts): `page` of at least MIN_WORKER_LOGS logs sends the cipher step of its
 * well-formed logs to that worker in one batch; checks, AAD, base64, UTF-8, JSON and every error stay
 * here, so results and errors are the same as in-thread (a worker that is unavailable: in-thread).
 */
export function logDecryptor(key: CryptoKey, vaultId: string, cipher: LogCipher = defaultLogCipher(), keyGeneration = 1,
  worker?: PageWorker): {
  one: (log: StoredLog) => Promise<DecryptedLog>;
  page: (logs: readonly StoredLog[]) => Array<Promise<DecryptedLog>>;
  /** The whole page, or the first failing log's error in sequence order (one promise per page on the worker path). */
  pageAll: (logs: readonly StoredLog[]) => Promise<DecryptedLog[]>;
} {
  // An invalid vault id fails every log as "malformed" (as decryptLog always did), not the call.
  let prefix: Uint8Array | undefined, prefixV2: Uint8Array | undefined, badVault: unknown;
  try {
    prefix = utf8(`${LOG_AAD_PREFIX}\u0000${canonicalUuid(vaultId, 'vaultId')}\u0000`);
    prefixV2 = keyGeneration > 1 // one prefix for every log of a generation above 1 (v3)
      ? utf8(`${LOG_AAD_PREFIX_V3}\u0000${canonicalUuid(vaultId, 'vaultId')}\u0000${keyGeneration}\u0000`)
      : utf8(`${LOG_AAD_PREFIX_V2}\u0000${canonicalUuid(vaultId, 'vaultId')}\u0000`);
  } catch (error) {
    badVault = error;
  }
  const len = (value: unknown) => (typeof value === 'string' ? value.length : 0);
  /** Upper bound of the bytes decryptAt writes for `log`. */
  const room = (log: StoredLog) => (prefixV2?.length ?? 0)
    + 3 * (len(log.id) + len(log.haexTimestamp) + len(log.deviceId) + len(log.recordKey) + 3)
    + LOG_NONCE_BYTES + Math.max(0, typeof log.encryptedData === 'string' ? base64ByteLength(log.encryptedData) : 0);

  /**
   * Decodes the log's inputs into slab[at..]; returns the next free offset and either the views to
   * decrypt or the log's rejected result (a malformed log never reaches a cipher).
   */
  const prepareAt = (log: StoredLog, slab: Uint8Array<ArrayBuffer>, at: number): Prepared => {
    const fail = (reason: string, cause?: unknown): Prepared =>
      ({ at, failed: Promise.reject(new LogDecryptionError(vaultId, String(log.id), log.sequence, reason, { cause })) });
    let aad: Uint8Array<ArrayBuffer>, nonce: Uint8Array<ArrayBuffer>, sealed: Uint8Array<ArrayBuffer>;
    try {
      if (prefix === undefined || prefixV2 === undefined) throw badVault;
      const id = isCanonicalUuid(log.id) ? log.id : canonicalUuid(log.id, 'log id');
      const ts = log.haexTimestamp;
      if (typeof ts !== 'string' || ts.length < 1 || ts.length > MAX_HAEX_TIMESTAMP_CHARS || SUSPICIOUS.test(ts)) {
        checkText(ts, 'haexTimestamp', 1, MAX_HAEX_TIMESTAMP_CHARS);
      }
      const device = log.deviceId;
      if (device != null && (typeof device !== 'string' || device.length > MAX_DEVICE_ID_CHARS || SUSPICIOUS.test(device))) {
        checkText(device, 'deviceId', 0, MAX_DEVICE_ID_CHARS);
      }
      const recordKey = log.recordKey;
      if (recordKey != null && !isRecordKey(recordKey)) throw new UsageError(`recordKey is not 1 to ${MAX_RECORD_KEY_CHARS} base64url characters`);
      const start = at;
      const head = recordKey == null && keyGeneration === 1 ? prefix : prefixV2;
      slab.set(head, at);
      at += head.length;
      at += utf8Into(`${id}\u0000${ts}\u0000${device == null ? '' : device}`, slab, at);
      if (recordKey != null || keyGeneration > 1) at += utf8Into(`\u0000${recordKey ?? ''}`, slab, at);
      aad = slab.subarray(start, at);
      const nonceBytes = typeof log.nonce === 'string' ? base64ByteLength(log.nonce) : -1;
      if (nonceBytes > LOG_NONCE_BYTES) return fail(`nonce has ${nonceBytes} bytes, expected ${LOG_NONCE_BYTES}`);
      const n = decodeBase64Into(log.nonce, slab, at);
      if (n < 0) throw new UsageError('nonce is not padded base64');
      if (n !== LOG_NONCE_BYTES) return fail(`nonce has ${n} bytes, expected ${LOG_NONCE_BYTES}`);
      nonce = slab.subarray(at, at + n);
      at += n;
      const d = decodeBase64Into(log.encryptedData, slab, at);
      if (d < 0) throw new UsageError('encryptedData is not padded base64');
      sealed = slab.subarray(at, at + d);
      at += d;
    } catch (cause) {
      return fail(`malformed log: ${(cause as Error).message}`, cause);
    }
    return { at, nonce, aad, sealed };
  };
  const decryptAt = (log: StoredLog, slab: Uint8Array<ArrayBuffer>, at: number): [Promise<DecryptedLog>, number] => {
    const p = prepareAt(log, slab, at);
    return [p.failed ?? finish(log, cipher.decrypt(key, p.nonce!, p.aad!, p.sealed!)), p.at];
  };

  /** The decrypted log of an authenticated plaintext; throws LogDecryptionError when it is not UTF-8 JSON. */
  const opened = (log: StoredLog, plaintext: Uint8Array): DecryptedLog => {
    let data: unknown;
    try {
      data = JSON.parse(fromUtf8(plaintext));
    } catch (cause) {
      throw new LogDecryptionError(vaultId, String(log.id), log.sequence, 'authenticated but not UTF-8 JSON', { cause });
    }
    return {
      id: log.id, sequence: log.sequence, haexTimestamp: log.haexTimestamp, deviceId: log.deviceId ?? null,
      recordKey: log.recordKey ?? null, createdAt: log.createdAt, data,
    };
  };
  const refused = (log: StoredLog, cause: unknown) => new LogDecryptionError(vaultId, String(log.id), log.sequence,
    'authentication failed (altered, moved from another vault, or another key)', { cause });
  // Plain .then (no async function): one promise less per log.
  const finish = (log: StoredLog, decrypting: Promise<Uint8Array>): Promise<DecryptedLog> => decrypting.then(
    (plaintext) => opened(log, plaintext), (cause: unknown) => { throw refused(log, cause); });

  /** Prepares every log of the page into one slab: [slab, per-log Prepared, bytes used]. */
  const prepareAll = (logs: readonly StoredLog[]): [Uint8Array<ArrayBuffer>, Prepared[], number] => {
    let size = 0;
    for (const log of logs) size += room(log);
    const slab = new Uint8Array(size);
    const prepared = new Array<Prepared>(logs.length);
    let at = 0;
    for (let i = 0; i < logs.length; i++) at = (prepared[i] = prepareAt(logs[i]!, slab, at)).at;
    return [slab, prepared, at];
  };
  /** The worker's batch of the well-formed logs (5 offsets each), and their indexes in the page. */
  const batchOf = (prepared: Prepared[]): [Int32Array, number[]] => {
    const entries = new Int32Array(prepared.length * ENTRY_INTS);
    const indexes: number[] = [];
    for (let i = 0; i < prepared.length; i++) {
      const { failed, nonce, aad, sealed } = prepared[i]!;
      if (failed) continue;
      const e = indexes.length * ENTRY_INTS;
      entries[e] = nonce!.byteOffset;
      entries[e + 1] = aad!.byteOffset;
      entries[e + 2] = aad!.length;
      entries[e + 3] = sealed!.byteOffset;
      entries[e + 4] = sealed!.length;
      indexes.push(i);
    }
    return [entries.subarray(0, indexes.length * ENTRY_INTS), indexes];
  };
  /** Plaintext j of a worker's answer, or the cipher's error. */
  const plaintextOf = (page: WorkerPage, j: number): Uint8Array | Error => {
    const failure = page.errors?.[j];
    return failure != null ? new Error(failure) : page.plain.subarray(j === 0 ? 0 : page.ends[j - 1]!, page.ends[j]!);
  };
  const inThread = (logs: readonly StoredLog[]) => {
    const [slab, prepared] = prepareAll(logs);
    return prepared.map((p, i) => p.failed ?? finish(logs[i]!, cipher.decrypt(key, p.nonce!, p.aad!, p.sealed!)));
  };
  /** Rejects with the first failing log in sequence order. */
  const firstFailure = async (results: Array<Promise<DecryptedLog>>): Promise<DecryptedLog[]> => {
    try {
      return await Promise.all(results);
    } catch {
      const settled = await Promise.allSettled(results);
      throw (settled.find((s) => s.status === 'rejected') as PromiseRejectedResult).reason;
    }
  };

  return {
    one: (log) => decryptAt(log, new Uint8Array(room(log)), 0)[0],
    page: (logs) => {
      if (!worker || logs.length < MIN_WORKER_LOGS) return inThread(logs);
      const [slab, prepared, used] = prepareAll(logs);
      const [entries, indexes] = batchOf(prepared);
      const out: Array<Promise<DecryptedLog>> = prepared.map((p) => p.failed!);
      if (indexes.length === 0) return out;
      // A worker that is unavailable (never started, died) answers null: that batch runs in-thread.
      const answer = worker.decrypt(key, slab.subarray(0, used), entries).then((page) => page, () => null);
      indexes.forEach((index, j) => {
        const p = prepared[index]!;
        out[index] = finish(logs[index]!, answer.then((page) => {
          if (!page) return cipher.decrypt(key, p.nonce!, p.aad!, p.sealed!);
          const plaintext = plaintextOf(page, j);
          if (plaintext instanceof Error) throw plaintext;
          return plaintext;
        }));
      });
      return out;
    },
    pageAll: async (logs) => {
      if ((!worker || logs.length < MIN_WORKER_LOGS) && cipher.decryptSync) { // node:crypto in-thread: no promise per log
        const [, prepared] = prepareAll(logs);
        for (const p of prepared) p.failed?.catch(() => {}); // only the first is awaited below: the others must not go unhandled
        const out = new Array<DecryptedLog>(logs.length);
        for (let i = 0; i < logs.length; i++) {
          const p = prepared[i]!;
          if (p.failed) return await p.failed;
          let plaintext: Uint8Array;
          try {
            plaintext = cipher.decryptSync(key, p.nonce!, p.aad!, p.sealed!);
          } catch (cause) {
            throw refused(logs[i]!, cause);
          }
          out[i] = opened(logs[i]!, plaintext);
        }
        return out;
      }
      if (!worker || logs.length < MIN_WORKER_LOGS) return await firstFailure(inThread(logs));
      // One promise for the page (not two per log): the worker's answer is opened log by log in order.
      const [slab, prepared, used] = prepareAll(logs);
      for (const p of prepared) p.failed?.catch(() => {}); // only the first is awaited below: the others must not go unhandled
      const [entries, indexes] = batchOf(prepared);
      const page = indexes.length === 0 ? undefined : await worker.decrypt(key, slab.subarray(0, used), entries).catch(() => null);
      if (page === null) return await firstFailure(inThread(logs));
      const out = new Array<DecryptedLog>(logs.length);
      for (let i = 0, j = 0; i < logs.length; i++) {
        const p = prepared[i]!;
        if (p.failed) return await p.failed;
        const plaintext = plaintextOf(page!, j++);
        if (plaintext instanceof Error) throw refused(logs[i]!, plaintext);
        out[i] = opened(logs[i]!, plaintext);
      }
      return out;
    },
  };
}
