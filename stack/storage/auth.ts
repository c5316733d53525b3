/**
 * Who calls the embedded Storage, as Supabase Storage decides it (src/http/plugins/jwt.ts):
 * `Authorization: Bearer <JWT>` verified against the stack's key set; its `role` claim is the
 * database role the request runs as and its `sub` the owner of what it writes. Routes that allow it
 * (public objects, signed URLs, TUS HEAD/OPTIONS) treat a missing or invalid token as `anon`; every
 * other route refuses it with Storage's AccessDenied.
 *
 * Only the API roles may be assumed (anon, authenticated, service_role): the storage admin can
 * switch to no other role anyway, and a validly signed token naming another role is refused with
 * 403 as Storage's `enforceJwtRoles` does.
 *
 * Signed-URL tokens (Storage's signObjectUrl / signUploadObjectUrl) are JWTs signed the way the
 * stack signs (HS256 with the JWT secret, or its first signing key) with `url` = `<bucket>/<name>`
 * and `scope` = `download` or `upload`; a token of one scope is refused for the other.
 */
import type { JwtClaims, JwtVerifier, TokenSigner } from '../jwt.ts';
import { ERRORS } from './errors.ts';

export const API_ROLES = new Set(['anon', 'authenticated', 'service_role']);

export interface Caller {
  role: string;
  sub?: string;
  claims: JwtClaims;
  /** The bearer token, unless the caller is an anonymous fallback. */
  token?: string;
  /** False when no valid token was presented (public routes fall back to anon). */
  authenticated: boolean;
}

export const ANON_CALLER: Caller = { role: 'anon', claims: { role: 'anon' }, authenticated: false };

export function bearerOf(authorization: string | undefined): string {
  return (authorization ?? '').replace(/^Bearer\s+/i, '').trim();
}

/** The caller of a route that demands a valid JWT. */
export function requireCaller(verifier: JwtVerifier, authorization: string | undefined): Caller {
  const token = bearerOf(authorization);
  if (!token) throw ERRORS.accessDenied('No authorization header provided');
  const check = verifier.check(token);
  if (!check.ok) {
    throw ERRORS.accessDenied(check.reason === 'expired' ? '"exp" claim timestamp check failed' : 'invalid signature');
  }
  const role = typeof check.claims.role === 'string' ? check.claims.role : '';
  if (!API_ROLES.has(role)) throw ERRORS.accessDenied('Access denied: Invalid role', 403);
  return {
    role, claims: check.claims, token, authenticated: true,
    ...(typeof check.claims.sub === 'string' ? { sub: check.claims.sub } : {}),
  };
}

/** The caller of a route that allows anonymous access: anon when the token is missing or invalid. */
export function optionalCaller(verifier: JwtVerifier, authorization: string | undefined): Caller {
  try {
    return requireCaller(verifier, authorization);
  } catch {
    return ANON_CALLER;
  }
}

export type SignedScope = 'download' | 'upload';

export interface SignedToken {
  url: string;
  scope: SignedScope;
  exp: number;
  owner?: string;
  upsert?: boolean;
}

export function signUrlToken(signer: TokenSigner, claims: { url: string; scope: SignedScope; owner?: string; upsert?: boolean },
  expiresInSeconds: number): string {
  const iat = Math.floor(Date.now() / 1000);
  return signer.sign({ ...claims, iat, exp: iat + expiresInSeconds });
}

/** Storage's verifyObjectSignature: signature, scope, the exact object, expiry. */
export function verifySignedToken(verifier: JwtVerifier, token: string, bucketId: string, objectName: string,
  scope: SignedScope): SignedToken {
  const check = verifier.check(token);
  if (!check.ok) {
    if (check.reason === 'expired') throw ERRORS.invalidJwt('"exp" claim timestamp check failed');
    throw ERRORS.invalidJwt(check.reason === 'bad_signature' ? 'signature verification failed' : 'Invalid JWT');
  }
  const claims = check.claims;
  const tokenScope = claims.scope ?? ('upsert' in claims ? 'upload' : 'download');
  if (tokenScope !== scope || claims.role !== undefined) throw ERRORS.invalidSignature(`Token is not scoped for ${scope}`);
  if (claims.url !== `${bucketId}/${objectName}`) throw ERRORS.invalidSignature();
  if (typeof claims.exp !== 'number') throw ERRORS.expiredSignature();
  return {
    url: claims.url, scope, exp: claims.exp,
    ...(typeof claims.owner === 'string' ? { owner: claims.owner } : {}),
    ...(typeof claims.upsert === 'boolean' ? { upsert: claims.upsert } : {}),
  };
}
