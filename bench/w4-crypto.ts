/**
 * The log encryption W4 generates: the client library's own AAD (client/src/log-crypto.ts
 * `logAad`: "haex-sync/log/v1" NUL vaultId NUL logId NUL haexTimestamp NUL deviceId), AES-256-GCM,
 * 12-byte nonce, ciphertext || 16-byte tag in base64, plaintext = UTF-8 of JSON. W4 checks that the
 * library's decryptLog accepts a generated log before it measures anything.
 */
export { logAad as aadFor } from '../client/src/log-crypto.ts';
