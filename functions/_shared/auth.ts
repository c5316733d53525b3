/**
 * The caller of a user route: a signed-in user's access token in `Authorization: Bearer <JWT>`,
 * verified here, in the function (config.toml sets `verify_jwt = false`: the platform's check is
 * incompatible with JWT signing keys, see Supabase's guides/functions/auth).
 *
 * Keys (as the CLI and the platform provision functions):
 *   - `SUPABASE_JWKS` (inline JSON) or, without it, the project's JWKS endpoint
 *     `SUPABASE_URL/auth/v1/.well-known/jwks.json`: tokens with a `kid` (ES256/RS256 signing keys)
 *     are verified by `@supabase/server`'s `verifyCredentials` against that key set (a core
 *     primitive rather than its Hono adapter: the adapter builds two supabase-js clients per
 *     request that these routes never use, and answers every failure alike);
 *   - the legacy JWT secret while legacy keys live: a kid-less `oct` key in `SUPABASE_JWKS` (what
 *     the CLI provisions without signing keys), or `SUPABASE_JWT_SECRET` when no `SUPABASE_JWKS` is
 *     given. Kid-less HS256 tokens (GoTrue's legacy tokens) are verified with it by `jose` (the
 *     library's own dependency), because `@supabase/server` requires a `kid` on every token.
 * A verified token must also be a user's: role `authenticated` and a `sub` (the anon and service
 * keys are not users).
 *
 * Answers, all 401 with `WWW-Authenticate: Bearer` and the API's error shape:
 *   missing_authorization         no Authorization header
 *   invalid_authorization_scheme  a scheme other than Bearer (e.g. `Basic …`, or a bare token)
 *   token_expired                 a genuine token past its `exp`: refresh the session and retry
 *   invalid_jwt                   anything else: malformed, `alg: none`, unknown `kid`, another
 *                                 key's signature, a `sb_…` API key, not a user's token
 * Verified tokens are remembered until they expire (bounded), so the signature check runs once
 * per token, not once per request.
 */
import type { JSONWebKeySet } from 'jose';
import { base64urlBytes } from './encoding.ts';
import { HttpError } from './errors.ts';

export interface Caller {
  /** `Bearer <token>`, forwarded to PostgREST. */
  authorization: string;
  token: string;
  userId: string;
  claims: Record<string, unknown>;
}

export type AuthErrorCode = 'missing_authorization' | 'invalid_authorization_scheme' | 'token_expired' | 'invalid_jwt';

export const unauthorized = (code: AuthErrorCode, message: string) =>
  new HttpError(401, code, message, undefined, { 'www-authenticate': 'Bearer' });

/** The key material of the function, resolved once from the environment. */
export interface AuthKeys {
  /** SUPABASE_URL: `@supabase/server` refuses to verify without it. */
  url: string;
  /** The JWKS for tokens with a `kid`: inline, or the project's endpoint. */
  jwks: JSONWebKeySet | URL | null;
  /** The legacy HS256 secret, if legacy tokens are accepted. */
  legacySecret: Uint8Array | null;
}

export function authKeysFromEnv(get: (name: string) => string | undefined = (name) => Deno.env.get(name)): AuthKeys {
  const raw = get('SUPABASE_JWKS')?.trim();
  const url = (get('SUPABASE_URL') ?? 'http://127.0.0.1:54321').replace(/\/+$/, '');
  if (raw) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new Error('SUPABASE_JWKS is not JSON: give the JWKS ({"keys":[...]}) as the CLI provisions it');
    }
    const keys = Array.isArray(parsed) ? parsed : (parsed as { keys?: unknown })?.keys;
    if (!Array.isArray(keys)) throw new Error('SUPABASE_JWKS must be a JWKS: {"keys":[...]}');
    const legacy = keys.find((k) => k?.kty === 'oct' && k.kid === undefined && typeof k.k === 'string');
    return {
      url,
      jwks: { keys: keys.filter((k) => k?.kty !== 'oct' || k.kid !== undefined) },
      legacySecret: legacy ? base64urlDecode(legacy.k) : null,
    };
  }
  const secret = get('SUPABASE_JWT_SECRET')?.trim();
  return {
    url,
    jwks: new URL(`${url}/auth/v1/.well-known/jwks.json`),
    legacySecret: secret ? new TextEncoder().encode(secret) : null,
  };
}

function base64urlDecode(value: string): Uint8Array {
  const binary = atob(value.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - value.length % 4) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

const BEARER = /^Bearer +(\S+)$/;

/** The bearer token of an Authorization header, or the 401 that names what is wrong with it. */
export function bearerToken(authorization: string | null): string {
  if (authorization === null || authorization.trim() === '') {
    throw unauthorized('missing_authorization', 'missing Authorization header: send Authorization: Bearer <access token of a signed-in user>');
  }
  const value = authorization.trim();
  const token = BEARER.exec(value)?.[1];
  if (token) return token;
  const scheme = /^(\S+)\s/.exec(value)?.[1];
  throw unauthorized('invalid_authorization_scheme', scheme && scheme.toLowerCase() !== 'bearer'
    ? `Authorization uses the "${scheme}" scheme: send Authorization: Bearer <access token>`
    : 'Authorization must be "Bearer <access token>" (the scheme "Bearer", one space, the token)');
}

export class UserVerifier {
  private readonly verified = new Map<string, Caller & { exp: number }>();

  constructor(private readonly keys: AuthKeys) {}

  /** The signed-in caller of this Authorization header, or a 401 (see the module doc). */
  async authenticate(authorization: string | null, nowMs = Date.now()): Promise<Caller> {
    const token = bearerToken(authorization);
    const cached = this.verified.get(token);
    if (cached) {
      if (cached.exp * 1000 > nowMs) return cached;
      this.verified.delete(token);
      throw expired();
    }
    if (token.startsWith('sb_')) {
      throw unauthorized('invalid_jwt', 'an API key (sb_…) is not a user\'s token: send the access token of a signed-in user');
    }
    let header: { alg?: string; kid?: string };
    try {
      // Strict base64url in every segment (encoding.ts): a token has one spelling; a lenient decoder
      // would accept unused bits set, padding or foreign characters in a genuine token.
      const segments = token.split('.');
      if (segments.length !== 3 || base64urlBytes(segments[2]!).length === 0) throw new Error('shape');
      base64urlBytes(segments[0]!);
      base64urlBytes(segments[1]!);
      header = (await jose()).decodeProtectedHeader(token);
    } catch {
      throw unauthorized('invalid_jwt', 'malformed JWT');
    }
    const claims = await this.verify(token, header);
    if (claims.role !== 'authenticated' || typeof claims.sub !== 'string' || claims.sub === '') throw notAUser();
    if (typeof claims.exp !== 'number') throw unauthorized('invalid_jwt', 'the JWT has no exp');
    const caller = { authorization: `Bearer ${token}`, token, userId: claims.sub, claims, exp: claims.exp };
    if (this.verified.size >= 10_000) this.verified.clear();
    this.verified.set(token, caller);
    return caller;
  }

  /** One verification per token: `@supabase/server` for signing keys, `jose` for the legacy secret. */
  private async verify(token: string, header: { alg?: string; kid?: string }): Promise<Record<string, unknown>> {
    if (typeof header.kid === 'string' && typeof header.alg === 'string' && header.alg !== 'HS256') {
      if (!this.keys.jwks) throw unauthorized('invalid_jwt', 'no signing keys are configured for this function');
      const { verifyCredentials } = await supabaseServerCore();
      const { data, error } = await verifyCredentials({ token, apikey: null }, { auth: 'user', env: { url: this.keys.url, jwks: this.keys.jwks } });
      if (!error && data.jwtClaims) return data.jwtClaims as unknown as Record<string, unknown>;
      // The library keeps jose's error as the cause; without one, the token verified but names no
      // user (no `sub`), which the library refuses in mode 'user'.
      throw error?.cause === undefined ? notAUser() : refusal(error.cause);
    }
    if (header.alg === 'HS256' && header.kid === undefined && this.keys.legacySecret) {
      const { jwtVerify } = await jose();
      try {
        return (await jwtVerify(token, this.keys.legacySecret, { algorithms: ['HS256'] })).payload;
      } catch (error) {
        throw refusal(error);
      }
    }
    throw unauthorized('invalid_jwt', header.alg === 'HS256'
      ? 'HS256 tokens are not accepted: this project signs with asymmetric keys'
      : `a JWT signed with "${String(header.alg)}"${header.kid ? '' : ' without a kid'} is not accepted`);
  }
}

/** The 401 for a token that failed verification, from jose's error code. */
function refusal(error: unknown): HttpError {
  const code = (error as { code?: string } | null)?.code;
  if (code === 'ERR_JWT_EXPIRED') return expired();
  if (code === 'ERR_JWKS_NO_MATCHING_KEY') return unauthorized('invalid_jwt', 'the JWT\'s kid names no signing key of this project');
  return unauthorized('invalid_jwt', 'invalid JWT: bad signature or malformed');
}

const notAUser = () => unauthorized('invalid_jwt', 'a signed-in user\'s token is required (the anon and service keys are not users)');

/**
 * `@supabase/server/core` and `jose`, imported on first use, not at start: the library pulls in
 * supabase-js, whose evaluation measured ~0.6-0.8 s of a cold start here; the open health route
 * never needs either, legacy-mode tokens never need supabase-js (bench/cold-start.ts).
 */
let core: Promise<typeof import('@supabase/server/core')> | undefined;
const supabaseServerCore = () => (core ??= import('@supabase/server/core'));
let joseModule: Promise<typeof import('jose')> | undefined;
const jose = () => (joseModule ??= import('jose'));

const expired = () => unauthorized('token_expired', 'the access token has expired: refresh the session and retry');
