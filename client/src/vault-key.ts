/**
 * Vault keys: one random AES-256-GCM key per vault, stored on the server only wrapped with a key
 * derived from the user's vault password.
 *
 * Wire format (the columns of create_vault / get_vault_key / update_vault_key, all padded base64):
 *   salt                = 32 random bytes                                    (44 chars)
 *   nonce               = 12 random bytes                                    (16 chars)
 *   encrypted_vault_key = AES-256-GCM(kek, nonce, vaultKey[32], aad) = 32 bytes + 16-byte tag (64 chars)
 *   kek                 = PBKDF2-HMAC-SHA256(password as UTF-8 (NFC-normalised), salt, 600,000 iterations, 256 bits)
 *   aad                 = UTF-8 "haex-sync/vault-key/v1" 0x00 <vault id, lower-case canonical UUID>
 *
 * Invariants and choices:
 * - The vault id is authenticated (AAD): a key record copied or swapped into another vault fails to
 *   unwrap (WrongPasswordError) instead of silently decrypting another vault's logs with it. The
 *   price: a vault id can never change (it cannot anyway: logs bind it too, see log-crypto.ts).
 * - The parameters (PBKDF2-SHA256, 600,000 iterations — OWASP 2023 — 32-byte salt) are fixed by the
 *   "v1" in the AAD; the server stores no version column. A future v2 must be recognisable by
 *   trying v1 first or by a prefix in `salt`.
 * - Every wrap (create, change of password) uses a fresh random salt and nonce.
 * - The unwrapped vault key is imported NON-extractable: script running in the app cannot read
 *   its bytes back from WebCrypto. A password change therefore unwraps once more with the old
 *   password to obtain the bytes for the new wrap, and wipes them afterwards.
 * - The password is normalised to NFC so that the same password typed on different platforms
 *   (composed vs decomposed accents) derives the same key.
 * - Importing the key also derives the record-key HMAC key from the same bytes (HKDF, record-key.ts).
 * - GCM authentication failure on unwrap is a WrongPasswordError (wrong password or a key record
 *   not of this vault); it is never a crash or garbage key.
 */
import { UsageError, WrongPasswordError } from './errors.ts';
import { canonicalUuid, fromBase64, randomBytes, subtle, toBase64, utf8 } from './encoding.ts';
import { bindRecordKeyKey, deriveRecordKeyKey } from './record-key.ts';

export const PBKDF2_ITERATIONS = 600_000;
export const SALT_BYTES = 32;
export const NONCE_BYTES = 12;
export const VAULT_KEY_BYTES = 32;
export const VAULT_KEY_AAD_PREFIX = 'haex-sync/vault-key/v1';

/** What the server stores for a vault's key (the arguments of create_vault / update_vault_key). */
export interface WrappedVaultKey {
  encryptedVaultKey: string;
  salt: string;
  nonce: string;
  /** Generation of the vault key it holds (shared vaults, after a rotation by the owner); absent: 1. */
  keyGeneration?: number;
}

/** AAD of the key wrap: "haex-sync/vault-key/v1\0<vaultId>". */
/** The AAD of a wrapped vault key; a generation above 1 is appended ("\0<generation>"), so an old copy served as new fails. */
export const vaultKeyAad = (vaultId: string, keyGeneration = 1): Uint8Array<ArrayBuffer> =>
  utf8(`${VAULT_KEY_AAD_PREFIX}\u0000${canonicalUuid(vaultId, 'vaultId')}${keyGeneration > 1 ? `\u0000${keyGeneration}` : ''}`);

/** PBKDF2-SHA256 (600,000 iterations) of the password -> a non-extractable AES-256-GCM wrapping key. */
export async function deriveKeyEncryptionKey(password: string, salt: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  if (typeof password !== 'string' || password.length === 0) throw new UsageError('password must be a non-empty string');
  const material = await subtle().importKey('raw', utf8(password.normalize('NFC')), 'PBKDF2', false, ['deriveKey']);
  return subtle().deriveKey({ name: 'PBKDF2', hash: 'SHA-256', salt, iterations: PBKDF2_ITERATIONS }, material,
    { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
}

/**
 * Imports 32 raw bytes as the vault's AES-256-GCM key (non-extractable), and derives from the same
 * bytes the HMAC key of record keys (record-key.ts), bound to the returned key.
 */
export async function importVaultKey(raw: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  const [key, hmacKey] = await Promise.all([
    subtle().importKey('raw', raw, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']),
    deriveRecordKeyKey(raw),
  ]);
  bindRecordKeyKey(key, hmacKey);
  return key;
}

/** Wraps raw vault key bytes with the password (fresh salt and nonce). */
export async function wrapVaultKey(vaultId: string, rawVaultKey: Uint8Array<ArrayBuffer>, password: string,
  keyGeneration = 1): Promise<WrappedVaultKey> {
  if (rawVaultKey.length !== VAULT_KEY_BYTES) throw new UsageError(`a vault key has ${VAULT_KEY_BYTES} bytes`);
  const salt = randomBytes(SALT_BYTES);
  const nonce = randomBytes(NONCE_BYTES);
  const kek = await deriveKeyEncryptionKey(password, salt);
  const sealed = await subtle().encrypt({ name: 'AES-GCM', iv: nonce, additionalData: vaultKeyAad(vaultId, keyGeneration) }, kek,
    rawVaultKey);
  const wrapped: WrappedVaultKey = { encryptedVaultKey: toBase64(new Uint8Array(sealed)), salt: toBase64(salt), nonce: toBase64(nonce) };
  if (keyGeneration > 1) wrapped.keyGeneration = keyGeneration;
  return wrapped;
}

/**
 * Unwraps to the raw bytes (caller must wipe them). WrongPasswordError on authentication failure.
 * Prefer unwrapVaultKey, which never exposes the bytes.
 */
export async function unwrapVaultKeyBytes(vaultId: string, wrapped: WrappedVaultKey, password: string): Promise<Uint8Array<ArrayBuffer>> {
  const salt = fromBase64(wrapped.salt, 'salt');
  const nonce = fromBase64(wrapped.nonce, 'nonce');
  const sealed = fromBase64(wrapped.encryptedVaultKey, 'encryptedVaultKey');
  if (nonce.length !== NONCE_BYTES || sealed.length !== VAULT_KEY_BYTES + 16) {
    throw new WrongPasswordError(vaultId, { cause: new Error('key record has an unexpected size') });
  }
  const kek = await deriveKeyEncryptionKey(password, salt);
  let raw: ArrayBuffer;
  try {
    raw = await subtle().decrypt({ name: 'AES-GCM', iv: nonce, additionalData: vaultKeyAad(vaultId, wrapped.keyGeneration ?? 1) },
      kek, sealed);
  } catch (cause) {
    throw new WrongPasswordError(vaultId, { cause });
  }
  return new Uint8Array(raw);
}

/** Unwraps to a non-extractable AES-GCM CryptoKey. WrongPasswordError on a wrong password. */
export async function unwrapVaultKey(vaultId: string, wrapped: WrappedVaultKey, password: string): Promise<CryptoKey> {
  const raw = await unwrapVaultKeyBytes(vaultId, wrapped, password);
  try {
    return await importVaultKey(raw);
  } finally {
    raw.fill(0);
  }
}

/** A new random vault key: its wrap for the server and the non-extractable key for this device. */
export async function createVaultKey(vaultId: string, password: string):
  Promise<{ key: CryptoKey; wrapped: WrappedVaultKey }> {
  const raw = randomBytes(VAULT_KEY_BYTES);
  try {
    const wrapped = await wrapVaultKey(vaultId, raw, password);
    return { key: await importVaultKey(raw), wrapped };
  } finally {
    raw.fill(0);
  }
}

/** Re-wraps a key record under a new password (fresh salt and nonce). WrongPasswordError if `oldPassword` is wrong. */
export async function rewrapVaultKey(vaultId: string, wrapped: WrappedVaultKey, oldPassword: string,
  newPassword: string): Promise<WrappedVaultKey> {
  const raw = await unwrapVaultKeyBytes(vaultId, wrapped, oldPassword);
  try {
    return await wrapVaultKey(vaultId, raw, newPassword, wrapped.keyGeneration ?? 1);
  } finally {
    raw.fill(0);
  }
}
