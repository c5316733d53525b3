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
 *   aad            = UTF-8 of "haex-sync/log/v1" 0x00 vaultId 0x00 logId 0x00 haexTimestamp 0x00 deviceId
 *                    (UUIDs in lower-case canonical form; a missing deviceId is the empty string)
 *
 * What the AAD buys: a log altered in any byte, copied into another vault, given another id, or
 * whose timestamp or device id the server rewrote fails GCM authentication -> LogDecryptionError
 * naming the log id and sequence. Because haex_timestamp is authenticated, the server cannot
 * reorder the CRDT history by rewriting timestamps. The fields are separated by NUL, which none of
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
import { canonicalUuid, fromBase64, fromUtf8, randomBytes, subtle, toBase64, utf8 } from './encoding.ts';

export const LOG_AAD_PREFIX = 'haex-sync/log/v1';
export const LOG_NONCE_BYTES = 12;
export const GCM_TAG_BYTES = 16;
export const MAX_ENCRYPTED_DATA_CHARS = 524_288;
/** Largest plaintext (bytes of JSON) whose ciphertext still fits MAX_ENCRYPTED_DATA_CHARS. */
export const MAX_PLAINTEXT_BYTES = (MAX_ENCRYPTED_DATA_CHARS / 4) * 3 - GCM_TAG_BYTES;
export const MAX_HAEX_TIMESTAMP_CHARS = 128;
export const MAX_DEVICE_ID_CHARS = 128;

/** A change the app wants to sync. */
export interface Change {
  /** Any JSON value (what JSON.stringify accepts, not undefined). */
  data: unknown;
  /** HLC timestamp of the change (1..128 characters). */
  haexTimestamp: string;
  /** Stable id; give the id of your CRDT log entry so retries across restarts never duplicate. Default: random UUID. */
  id?: string;
  deviceId?: string | null;
}

/** A log as the server stores it (camelCase). */
export interface EncryptedLog {
  id: string;
  encryptedData: string;
  nonce: string;
  haexTimestamp: string;
  deviceId?: string | null;
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

/** "haex-sync/log/v1\0<vaultId>\0<logId>\0<haexTimestamp>\0<deviceId>" as UTF-8. */
export function logAad(vaultId: string, logId: string, haexTimestamp: string, deviceId?: string | null):
  Uint8Array<ArrayBuffer> {
  return utf8([LOG_AAD_PREFIX, canonicalUuid(vaultId, 'vaultId'), canonicalUuid(logId, 'log id'),
    checkText(haexTimestamp, 'haexTimestamp', 1, MAX_HAEX_TIMESTAMP_CHARS),
    deviceId == null ? '' : checkText(deviceId, 'deviceId', 0, MAX_DEVICE_ID_CHARS)].join('\u0000'));
}

/** Encrypts one change. Assigns a random id if it has none. */
export async function encryptChange(key: CryptoKey, vaultId: string, change: Change): Promise<EncryptedLog> {
  const id = change.id === undefined ? globalThis.crypto.randomUUID() : canonicalUuid(change.id, 'change id');
  const deviceId = change.deviceId ?? null;
  const aad = logAad(vaultId, id, change.haexTimestamp, deviceId);
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
  return log;
}

/** Decrypts and authenticates one pulled log. LogDecryptionError (with id and sequence) on any failure. */
export async function decryptLog(key: CryptoKey, vaultId: string, log: StoredLog): Promise<DecryptedLog> {
  const fail = (reason: string, cause?: unknown) =>
    new LogDecryptionError(vaultId, String(log.id), log.sequence, reason, { cause });
  let aad: Uint8Array<ArrayBuffer>, nonce: Uint8Array<ArrayBuffer>, sealed: Uint8Array<ArrayBuffer>;
  try {
    aad = logAad(vaultId, log.id, log.haexTimestamp, log.deviceId);
    nonce = fromBase64(log.nonce, 'nonce');
    sealed = fromBase64(log.encryptedData, 'encryptedData');
  } catch (cause) {
    throw fail(`malformed log: ${(cause as Error).message}`, cause);
  }
  if (nonce.length !== LOG_NONCE_BYTES) throw fail(`nonce has ${nonce.length} bytes, expected ${LOG_NONCE_BYTES}`);
  let plaintext: ArrayBuffer;
  try {
    plaintext = await subtle().decrypt({ name: 'AES-GCM', iv: nonce, additionalData: aad }, key, sealed);
  } catch (cause) {
    throw fail('authentication failed (altered, moved from another vault, or another key)', cause);
  }
  let data: unknown;
  try {
    data = JSON.parse(fromUtf8(new Uint8Array(plaintext)));
  } catch (cause) {
    throw fail('authenticated but not UTF-8 JSON', cause);
  }
  return {
    id: log.id, sequence: log.sequence, haexTimestamp: log.haexTimestamp, deviceId: log.deviceId ?? null,
    createdAt: log.createdAt, data,
  };
}
