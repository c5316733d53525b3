/**
 * JWT checks with Supabase Realtime's outcomes and wording (RealtimeWeb.ChannelsAuthorization,
 * RealtimeWeb.UserSocket): verified against the stack's key set (stack/jwt.ts); `role` and `exp` are required; an
 * expired token is "Token has expired N seconds ago".
 */
import type { JwtVerifier } from '../jwt.ts';

export type TokenCheck =
  | { ok: true; claims: Record<string, unknown> & { role: string; exp: number } }
  | { ok: false; error: 'token_malformed' | 'signature_error' | 'missing_claims' | 'expired_token'; message: string };

/** Checks a token against the stack's key set (API_JWT_JWKS on `supabase start`: the signing keys' public parts, or the secret). */
export function checkToken(token: unknown, verifier: JwtVerifier, nowSeconds = Math.floor(Date.now() / 1000)): TokenCheck {
  if (typeof token !== 'string') return { ok: false, error: 'token_malformed', message: 'The token provided is not a valid JWT' };
  const check = verifier.check(token.replace(/\s/g, ''));
  if (!check.ok) {
    if (check.reason === 'malformed') return { ok: false, error: 'token_malformed', message: 'The token provided is not a valid JWT' };
    if (check.reason === 'expired') {
      return { ok: false, error: 'expired_token', message: `Token has expired ${nowSeconds - Number(check.claims?.exp)} seconds ago` };
    }
    return { ok: false, error: 'signature_error', message: 'Failed to validate JWT signature' };
  }
  const claims = check.claims;
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
