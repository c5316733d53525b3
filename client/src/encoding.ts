/**
 * Byte encodings shared by the crypto modules. WebCrypto and web-platform globals only
 * (btoa/atob, TextEncoder), so this runs in browsers, Tauri webviews, Node 20+ and Deno.
 *
 * base64: padded standard alphabet (RFC 4648 section 4) — the only form the server accepts.
 */
import { UsageError } from './errors.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export const utf8 = (text: string): Uint8Array<ArrayBuffer> => encoder.encode(text) as Uint8Array<ArrayBuffer>;
export const fromUtf8 = (bytes: Uint8Array): string => decoder.decode(bytes);

const CHUNK = 0x8000;
export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += CHUNK) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + CHUNK) as unknown as number[]);
  }
  return btoa(binary);
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
export const isBase64 = (value: string) => value.length % 4 === 0 && BASE64.test(value);

/** Strict: padded standard base64 only; throws UsageError otherwise. */
export function fromBase64(value: string, what = 'value'): Uint8Array<ArrayBuffer> {
  if (!isBase64(value)) throw new UsageError(`${what} is not padded base64`);
  const binary = atob(value);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Characters of the padded base64 form of `byteLength` bytes. */
export const base64Length = (byteLength: number) => 4 * Math.ceil(byteLength / 3);

export function randomBytes(length: number): Uint8Array<ArrayBuffer> {
  return globalThis.crypto.getRandomValues(new Uint8Array(length));
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Lower-case canonical form of a UUID (the form PostgreSQL returns); throws UsageError otherwise. */
export function canonicalUuid(value: string, what = 'id'): string {
  const lower = typeof value === 'string' ? value.toLowerCase() : '';
  if (!UUID.test(lower)) throw new UsageError(`${what} must be a UUID, got ${JSON.stringify(value)}`);
  return lower;
}

export const subtle = (): SubtleCrypto => {
  const s = globalThis.crypto?.subtle;
  if (!s) throw new UsageError('WebCrypto (globalThis.crypto.subtle) is not available: needs a secure context');
  return s;
};
