/**
 * The caller: a bearer JWT of a signed-in user. With SYNC_DB_TRANSPORT=rest the gateway (verify_jwt)
 * and PostgREST check the signature and expiry; `requireUser` only decodes the claims to refuse, with
 * 401, tokens that are no user's (the anon or service-role key: no `sub`, role not `authenticated`)
 * before any DB work. With `direct` (db-direct.ts) no PostgREST stands between the token and the
 * database, so `requireVerifiedUser` also checks the HS256 signature with SUPABASE_JWT_SECRET
 * (WebCrypto, constant time) and requires `exp`.
 */
import { base64urlBytes } from './encoding.ts';
import { HttpError } from './errors.ts';

export interface Caller {
  /** The raw `Authorization` header value, forwarded to PostgREST. */
  authorization: string;
  token: string;
  userId: string;
  claims: Record<string, unknown>;
}

const unauthorized = (message: string) =>
  new HttpError(401, 'unauthorized', message, undefined, { 'www-authenticate': 'Bearer' });

const BEARER = /^Bearer\s+(\S+)$/i;

function decodeSegment(segment: string): unknown {
  return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(base64urlBytes(segment)));
}

/** The token's claims, or 401. Does not verify the signature (see the module doc). */
export function bearerClaims(authorization: string | null): { token: string; claims: Record<string, unknown> } {
  if (!authorization) throw unauthorized('missing Authorization: Bearer <user JWT>');
  const token = BEARER.exec(authorization.trim())?.[1] ?? '';
  const segments = token.split('.');
  if (segments.length !== 3) throw unauthorized('Authorization must be a bearer JWT');
  let claims: unknown;
  try {
    // Every segment strict base64url (encoding.ts), also those only the gateway and PostgREST verify.
    base64urlBytes(segments[0]!);
    if (base64urlBytes(segments[2]!).length === 0) throw new Error('no signature');
    claims = decodeSegment(segments[1]!);
  } catch {
    throw unauthorized('malformed JWT');
  }
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) throw unauthorized('malformed JWT');
  return { token, claims: claims as Record<string, unknown> };
}

export function requireUser(authorization: string | null, nowMs = Date.now()): Caller {
  const { token, claims } = bearerClaims(authorization);
  return userOf(token, claims, nowMs);
}

function userOf(token: string, claims: Record<string, unknown>, nowMs: number): Caller {
  const exp = claims.exp;
  if (typeof exp === 'number' && exp * 1000 <= nowMs) throw unauthorized('JWT expired');
  if (claims.role !== 'authenticated' || typeof claims.sub !== 'string' || claims.sub === '') {
    throw unauthorized('a signed-in user is required (the anon and service keys are not users)');
  }
  return { authorization: `Bearer ${token}`, token, userId: claims.sub, claims };
}

/** The HMAC-SHA256 key of the JWT secret, for `requireVerifiedUser` (import once, at start). */
export const jwtKey = (secret: string): Promise<CryptoKey> =>
  crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);

/**
 * `requireUser` plus what PostgREST would check: header `alg` exactly HS256 (so no `none`, no
 * algorithm confusion), the signature over `header.payload` (crypto.subtle.verify compares in
 * constant time), and a numeric `exp` in the future. Anything else is 401.
 */
export async function requireVerifiedUser(authorization: string | null, key: CryptoKey, nowMs = Date.now()):
  Promise<Caller> {
  const { token, claims } = bearerClaims(authorization);
  const [header, payload, signature] = token.split('.') as [string, string, string];
  let alg: unknown;
  let signatureBytes: Uint8Array<ArrayBuffer>;
  try {
    alg = (decodeSegment(header) as { alg?: unknown } | null)?.alg;
    signatureBytes = base64urlBytes(signature);
  } catch {
    throw unauthorized('malformed JWT');
  }
  if (alg !== 'HS256') throw unauthorized('JWT must be signed with HS256');
  const valid = await crypto.subtle.verify('HMAC', key, signatureBytes, new TextEncoder().encode(`${header}.${payload}`));
  if (!valid) throw unauthorized('invalid JWT signature');
  if (typeof claims.exp !== 'number') throw unauthorized('JWT without exp');
  return userOf(token, claims, nowMs);
}
