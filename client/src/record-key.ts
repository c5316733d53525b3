/**
 * Record keys: opaque names of WHAT a change overwrites, so that the server can compact a vault's log
 * (drop logs a newer log of the same record supersedes) without learning what any log writes.
 *
 * Wire format (sync_logs.record_key / `recordKey`):
 *   recordKey = base64url, unpadded, of the first 16 bytes (128 bits) of HMAC-SHA-256(K, UTF-8(key))   (22 chars)
 *   K         = HKDF-SHA-256(ikm = the 32 raw bytes of the vault key, salt = none (32 zero bytes),
 *                            info = UTF-8 "haex-sync/record-key/v1") as a non-extractable HMAC-SHA-256 key
 *   key       = the app's name of what the change overwrites, 1..4096 characters of well-formed text;
 *               for HaexHub one CRDT cell, e.g. JSON.stringify([table, primaryKey, column]).
 *
 * Invariants and choices:
 * - K is derived once when the vault key is unwrapped or created (vault-key.ts), while the raw bytes
 *   exist; it is bound to the vault key's CryptoKey object (a WeakMap), so nothing else must be
 *   passed around and no raw key bytes are kept. A CryptoKey not made by vault-key.ts has no K:
 *   encrypting a change with a `key` then throws UsageError.
 * - The server learns only equality: which logs share a record key, and when each was pushed. It
 *   cannot invert the HMAC (K never leaves the device) nor test guesses of a key without K. Keys
 *   are per vault (K derives from the vault's own random key), so equal keys in two vaults do not
 *   link.
 * - 128 bits: a collision (two different keys with one record key) would let compaction drop a
 *   live change; among 2^32 keys in one vault its probability is about 2^-65.
 * - The record key is bound into the log's AAD (log-crypto.ts, "haex-sync/log/v2"), so the server
 *   cannot move a log to another record key, add one to a log pushed without, or strip it.
 * - Opting out: a change without `key` has no record key and is never compacted.
 */
import { UsageError } from './errors.ts';
import { isBase64url, subtle, toBase64, utf8 } from './encoding.ts';
import { SQL_LIMITS } from './limits.ts';

export const RECORD_KEY_INFO = 'haex-sync/record-key/v1';
export const RECORD_KEY_BYTES = 16;
export const MAX_RECORD_KEY_CHARS = SQL_LIMITS.maxRecordKeyChars;
export const MAX_CHANGE_KEY_CHARS = 4096;

const hmacKeys = new WeakMap<CryptoKey, CryptoKey>();

/** HKDF-SHA-256 of the raw vault key -> the non-extractable HMAC-SHA-256 key of record keys. */
export async function deriveRecordKeyKey(rawVaultKey: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  const ikm = await subtle().importKey('raw', rawVaultKey, 'HKDF', false, ['deriveKey']);
  return subtle().deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(32), info: utf8(RECORD_KEY_INFO) }, ikm,
    { name: 'HMAC', hash: 'SHA-256', length: 256 }, false, ['sign']);
}

/** Binds the record-key HMAC key to the vault key it was derived from. */
export const bindRecordKeyKey = (vaultKey: CryptoKey, hmacKey: CryptoKey): void => { hmacKeys.set(vaultKey, hmacKey); };

/** The record-key HMAC key of a vault key made by vault-key.ts, if any. */
export const recordKeyKeyOf = (vaultKey: CryptoKey): CryptoKey | undefined => hmacKeys.get(vaultKey);

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The record key of `key` (what a change overwrites) under the vault key's HMAC key. */
export async function recordKeyFor(vaultKey: CryptoKey, key: string): Promise<string> {
  if (typeof key !== 'string' || key.length < 1 || key.length > MAX_CHANGE_KEY_CHARS || LONE_SURROGATE.test(key)) {
    throw new UsageError(`a change's key must be well-formed text of 1 to ${MAX_CHANGE_KEY_CHARS} characters`);
  }
  const hmacKey = recordKeyKeyOf(vaultKey);
  if (!hmacKey) throw new UsageError('this vault key has no record-key key: create or unlock the vault with this library');
  const mac = new Uint8Array(await subtle().sign('HMAC', hmacKey, utf8(key)), 0, RECORD_KEY_BYTES);
  return toBase64Url(mac);
}

/** Unpadded base64url (RFC 4648 section 5). */
export const toBase64Url = (bytes: Uint8Array): string =>
  toBase64(bytes).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');

/** What the server accepts as record_key: unpadded base64url, 1..MAX_RECORD_KEY_CHARS characters. */
export const isRecordKey = (value: unknown): value is string =>
  typeof value === 'string' && value.length >= 1 && value.length <= MAX_RECORD_KEY_CHARS && isBase64url(value);
