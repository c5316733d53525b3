/**
 * What tests use of the shared throwaway stack: its URLs and keys, users with real tokens,
 * a superuser connection, role switching as PostgREST does it, and attack tokens.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, inject } from 'vitest';
import { type JwtClaims, JwtVerifier, type SigningJwk, signJwt, tokenSigner } from '../../stack/jwt.ts';
import { accessTokenFor, ensureUser, type StackUser } from '../../stack/users.ts';

export const stack = inject('stack');

/** Checks a token as the stack does (its key set: the secret, or the signing keys). */
const verifier = new JwtVerifier(stack.JWT_SECRET, stack.SIGNING_KEYS);
export const verifyToken = (token: string): JwtClaims | null => verifier.verify(token);
/** Signs claims as the stack's Auth does (HS256, or the first signing key with its kid). */
export const signToken = (claims: JwtClaims): string => tokenSigner(stack.JWT_SECRET, stack.SIGNING_KEYS).sign(claims);

const keyOptions = { jwtSecret: stack.JWT_SECRET, signingKeys: stack.SIGNING_KEYS, apiUrl: stack.API_URL };

export async function newUser(label = 'user'): Promise<StackUser> {
  return ensureUser(stack.DB_URL, `${label}-${randomUUID()}@test.haex.local`, { ...keyOptions, expiresInSeconds: stack.JWT_EXPIRY });
}

/** A token of this user, correctly signed but expired a minute ago. */
export function expiredTokenFor(user: { id: string; email: string }): string {
  return accessTokenFor(user, { ...keyOptions, expiresInSeconds: 60, issuedAt: Math.floor(Date.now() / 1000) - 120 });
}

const WRONG_SECRET = 'not-the-secret-but-long-enough-to-look-real-0123456789';
/** A key of the stack's algorithm and kid that is not the stack's (es256 mode): a forger's best try. */
let impostor: SigningJwk | undefined;
function impostorKey(): SigningJwk {
  if (!impostor) {
    const real = stack.SIGNING_KEYS[0]!;
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    impostor = { ...(privateKey.export({ format: 'jwk' }) as object), kid: real.kid, alg: 'ES256', kty: 'EC' } as SigningJwk;
  }
  return impostor;
}

/** A token with this user's claims, signed with a key that is not the stack's (same alg and kid in es256 mode). */
export function forgedTokenFor(user: { id: string; email: string }): string {
  return stack.KEY_MODE === 'es256'
    ? accessTokenFor(user, { jwtSecret: WRONG_SECRET, signingKeys: [impostorKey()], apiUrl: stack.API_URL, expiresInSeconds: 3600 })
    : accessTokenFor(user, { jwtSecret: WRONG_SECRET, apiUrl: stack.API_URL, expiresInSeconds: 3600 });
}

/** A token claiming `service_role`, signed with a wrong key. */
export const forgedServiceKey = () => {
  const claims = { iss: 'supabase-demo', role: 'service_role', exp: 1983812996 };
  return stack.KEY_MODE === 'es256' ? tokenSigner(WRONG_SECRET, [impostorKey()]).sign(claims) : signJwt(claims, WRONG_SECRET);
};

let admin: postgres.Sql | undefined;
/** A superuser connection to the stack's database (closed after the file's tests). */
export function adminSql(): postgres.Sql {
  if (!admin) {
    admin = postgres(stack.DB_URL, { max: 4, onnotice: () => {} });
    afterAll(async () => { await admin?.end({ timeout: 5 }); admin = undefined; });
  }
  return admin;
}

/**
 * Runs `fn` in a transaction as PostgREST would for this request: `set local role` and the JWT
 * claims in `request.jwt.claims`. The transaction is rolled back afterwards.
 */
export async function asRole<T>(role: 'anon' | 'authenticated' | 'service_role', claims: Record<string, unknown>,
  fn: (sql: postgres.TransactionSql) => Promise<T>): Promise<T> {
  let result: T;
  const rollback = new Error('rollback');
  try {
    await adminSql().begin(async (sql) => {
      await sql`select set_config('role', ${role}, true), set_config('request.jwt.claims', ${JSON.stringify({ role, ...claims })}, true)`;
      result = await fn(sql);
      throw rollback;
    });
  } catch (error) {
    if (error !== rollback) throw error;
  }
  return result!;
}

/** The Auth session a user's access token names (its `session_id` claim). */
export const sessionIdOf = (user: { access_token: string }): string => verifyToken(user.access_token)!.session_id as string;

/** As PostgREST runs a request of this user's session (private.caller_id() checks the session). */
export const asUser = <T>(user: { id: string; access_token: string }, fn: (sql: postgres.TransactionSql) => Promise<T>) =>
  asRole('authenticated', { sub: user.id, aud: 'authenticated', session_id: sessionIdOf(user) }, fn);

export interface ApiResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

/** A request through the gateway; `apikey` defaults to the anon key, `token` to none. */
export async function api<T = any>(path: string, init: {
  method?: string; token?: string; apikey?: string | null; body?: unknown; rawBody?: string;
  headers?: Record<string, string>;
} = {}): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.apikey !== null) headers.apikey = init.apikey ?? stack.ANON_KEY;
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  let body: string | undefined = init.rawBody;
  if (init.body !== undefined) {
    body = JSON.stringify(init.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(`${stack.API_URL}${path}`, { method: init.method ?? (body ? 'POST' : 'GET'), headers, body });
  const text = await response.text();
  let parsed: unknown = text;
  try { parsed = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  return { status: response.status, headers: response.headers, body: parsed as T };
}

/** Calls a PostgREST rpc through the gateway. */
export const rpc = <T = any>(name: string, args: Record<string, unknown>, token?: string, apikey?: string | null) =>
  api<T>(`/rest/v1/rpc/${name}`, { method: 'POST', body: args, token, apikey });
