/**
 * JWT checks with Supabase Realtime's outcomes and wording (RealtimeWeb.ChannelsAuthorization,
 * RealtimeWeb.UserSocket): HS256 with the project's secret; `role` and `exp` are required; an
 * expired token is "Token has expired N seconds ago".
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type TokenCheck =
  | { ok: true; claims: Record<string, unknown> & { role: string; exp: number } }
  | { ok: false; error: 'token_malformed' | 'signature_error' | 'missing_claims' | 'expired_token'; message: string };

export function checkToken(token: unknown, secret: string, nowSeconds = Math.floor(Date.now() / 1000)): TokenCheck {
  if (typeof token !== 'string') return { ok: false, error: 'token_malformed', message: 'The token provided is not a valid JWT' };
  const parts = token.replace(/\s/g, '').split('.');
  let claims: Record<string, unknown>;
  try {
    if (parts.length !== 3) throw new Error('parts');
    const header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as { alg?: string };
    claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (typeof claims !== 'object' || claims === null || header.alg !== 'HS256') throw new Error('shape');
  } catch {
    return { ok: false, error: 'token_malformed', message: 'The token provided is not a valid JWT' };
  }
  const expected = createHmac('sha256', secret).update(`${parts[0]}.${parts[1]}`).digest();
  const given = Buffer.from(parts[2]!, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, error: 'signature_error', message: 'Failed to validate JWT signature' };
  }
  if (typeof claims.exp === 'number' && claims.exp <= nowSeconds) {
    return { ok: false, error: 'expired_token', message: `Token has expired ${nowSeconds - claims.exp} seconds ago` };
  }
  if (typeof claims.role !== 'string' || typeof claims.exp !== 'number') {
    return { ok: false, error: 'missing_claims', message: 'Fields `role` and `exp` are required in JWT' };
  }
  return { ok: true, claims: claims as Record<string, unknown> & { role: string; exp: number } };
}

/** The text Realtime puts in a refused join's `reason` for a token that did not pass. */
export function joinRefusal(check: Extract<TokenCheck, { ok: false }>): string {
  switch (check.error) {
    case 'expired_token':
    case 'missing_claims': return `InvalidJWTToken: ${check.message}`;
    case 'token_malformed': return `MalformedJWT: ${check.message}`;
    case 'signature_error': return `JwtSignatureError: ${check.message}`;
  }
}
