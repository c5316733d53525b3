/**
 * HS256 JSON Web Tokens, signed and verified with the stack's JWT secret.
 *
 * The embedded stack has no Supabase Auth server, so it mints tokens itself. They must be
 * indistinguishable from GoTrue's to PostgREST and to our Edge Functions: header
 * `{"alg":"HS256","typ":"JWT"}`, base64url without padding, HMAC-SHA256 over `header.payload`.
 * `verifyJwt` accepts only HS256, checks the signature in constant time and rejects expired tokens.
 * Every segment must be strict base64url (RFC 7515 section 2: the URL-safe alphabet, no padding, no
 * other characters, canonical trailing bits), so a token has exactly one spelling: Node's lenient
 * decoder would otherwise skip characters outside the alphabet and accept a bent token.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type JwtClaims = Record<string, unknown> & { exp?: number; role?: string; sub?: string };

const base64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

export function signJwt(claims: JwtClaims, secret: string): string {
  const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = base64url(JSON.stringify(claims));
  const signature = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** The bytes of a strict base64url segment, or null (padding, foreign characters, non-canonical). */
export function strictBase64url(segment: string): Buffer | null {
  if (!BASE64URL.test(segment) || segment.length % 4 === 1) return null;
  const bytes = Buffer.from(segment, 'base64url');
  // Non-zero bits after the last full byte decode like zero bits: only the canonical spelling counts.
  return bytes.toString('base64url') === segment ? bytes : null;
}

/** A JSON object from a strict base64url segment, or null. */
function jsonObject(segment: string): Record<string, unknown> | null {
  const bytes = strictBase64url(segment);
  if (!bytes) return null;
  try {
    const value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : null;
  } catch {
    return null;
  }
}

/** The verified claims, or null for anything that is not a valid, unexpired HS256 token. */
export function verifyJwt(token: string, secret: string, nowSeconds = Date.now() / 1000): JwtClaims | null {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  const [header, payload, signature] = parts as [string, string, string];
  if (jsonObject(header)?.alg !== 'HS256') return null;
  const given = strictBase64url(signature);
  const expected = createHmac('sha256', secret).update(`${header}.${payload}`).digest();
  if (!given || given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  const claims = jsonObject(payload) as JwtClaims | null;
  if (!claims) return null;
  if (claims.exp !== undefined && (typeof claims.exp !== 'number' || claims.exp <= nowSeconds)) return null;
  return claims;
}
