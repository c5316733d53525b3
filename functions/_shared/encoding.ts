/**
 * The function runtime's one uuid check and its base64 checks: padded standard base64 (RFC 4648
 * section 4) as the SQL API stores it (private.is_base64), and strict base64url (RFC 7515: URL-safe
 * alphabet, no padding, canonical trailing bits) for JWT segments.
 */

const UUID = /^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$/;
/** A uuid in 8-4-4-4-12 hex form, any case (what PostgreSQL's uuid input and the SQL checks accept). */
export const isUuid = (value: string): boolean => UUID.test(value);

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
/** Padded standard base64, exactly as the SQL check private.is_base64 (the empty string aside). */
export const isBase64 = (value: string): boolean => value.length % 4 === 0 && BASE64.test(value);

const BASE64URL = /^[A-Za-z0-9_-]*$/;
/** Unpadded base64url characters only, any length (record keys; JWT segments use base64urlBytes). */
export const isBase64url = (value: string): boolean => BASE64URL.test(value);
const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** The bytes of a strict base64url string; throws on padding, foreign characters or unused bits set. */
export function base64urlBytes(value: string): Uint8Array<ArrayBuffer> {
  if (!BASE64URL.test(value) || value.length % 4 === 1) throw new Error('not strict base64url');
  const tail = value.length % 4;
  // The last character of a 2- or 3-character group carries 4 or 2 unused bits: they must be zero.
  if (tail !== 0 && (BASE64URL_ALPHABET.indexOf(value[value.length - 1]!) & (tail === 2 ? 0x0f : 0x03)) !== 0) {
    throw new Error('not strict base64url');
  }
  const binary = atob(value.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - tail) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}
