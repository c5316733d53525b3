/**
 * The caller: a bearer JWT of a signed-in user. The gateway (verify_jwt) and PostgREST check the
 * signature and expiry; here we only decode the claims to refuse, with 401, tokens that are no
 * user's (the anon or service-role key: no `sub`, role not `authenticated`) before any DB work.
 */
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

const BEARER = /^Bearer\s+([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/i;

function decodeSegment(segment: string): unknown {
  const base64 = segment.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

/** The token's claims, or 401. Does not verify the signature (see the module doc). */
export function bearerClaims(authorization: string | null): { token: string; claims: Record<string, unknown> } {
  if (!authorization) throw unauthorized('missing Authorization: Bearer <user JWT>');
  const match = BEARER.exec(authorization.trim());
  if (!match) throw unauthorized('Authorization must be a bearer JWT');
  let claims: unknown;
  try {
    claims = decodeSegment(match[1]!.split('.')[1]!);
  } catch {
    throw unauthorized('malformed JWT');
  }
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) throw unauthorized('malformed JWT');
  return { token: match[1]!, claims: claims as Record<string, unknown> };
}

export function requireUser(authorization: string | null): Caller {
  const { token, claims } = bearerClaims(authorization);
  const exp = claims.exp;
  if (typeof exp === 'number' && exp * 1000 <= Date.now()) throw unauthorized('JWT expired');
  if (claims.role !== 'authenticated' || typeof claims.sub !== 'string' || claims.sub === '') {
    throw unauthorized('a signed-in user is required (the anon and service keys are not users)');
  }
  return { authorization: `Bearer ${token}`, token, userId: claims.sub, claims };
}
