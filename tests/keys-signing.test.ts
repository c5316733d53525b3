/**
 * Supabase's current key model on the embedded stack (issue 17), in both projects of the key matrix
 * (hs256: legacy JWT secret; es256: an ES256 key from `supabase gen signing-key`):
 *   - the JWKS at /auth/v1/.well-known/jwks.json, as GoTrue serves it in each mode;
 *   - access tokens with the signing key's `alg` and `kid`, and `auth.getClaims()` of unmodified
 *     supabase-js (pinned and latest) in both modes;
 *   - the publishable and secret keys, mapped to anon and service_role as the CLI's gateway does;
 *   - forged tokens of every kind refused by the sync function (401, with a code a client can act
 *     on), PostgREST (401) and Auth (403 bad_jwt).
 */
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { UNREGISTERED_API_KEY } from '../stack/api-key-check.ts';
import { publicJwk, type SigningJwk, signJwt, signJwtWithKey } from '../stack/jwt.ts';
import type { StackUser } from '../stack/users.ts';
import { authClient, authHttp, newEmail, newPassword, SUPABASE_JS_VERSIONS } from './support/auth.ts';
import { api, expiredTokenFor, forgedTokenFor, newUser, signToken, stack, verifyToken } from './support/stack.ts';

const F = '/functions/v1/sync';
const es256 = stack.KEY_MODE === 'es256';
const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const headerOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as Record<string, unknown>;

let user: StackUser;
beforeAll(async () => {
  user = await newUser('keys');
});

describe('JWKS and signed tokens', () => {
  it('serves /auth/v1/.well-known/jwks.json as GoTrue: the public signing keys, or no keys with only the secret', async () => {
    const res = await fetch(`${stack.API_URL}/auth/v1/.well-known/jwks.json`);
    expect(res.status).toBe(200);
    const body = await res.json() as { keys: Record<string, unknown>[] };
    if (!es256) {
      expect(body).toEqual({ keys: [] });
      return;
    }
    const key = stack.SIGNING_KEYS[0]!;
    expect(body.keys).toEqual([publicJwk(key)]);
    expect(body.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', kid: key.kid, key_ops: ['verify'] });
    expect(JSON.stringify(body)).not.toContain(key.d);
  });

  it('signs a supabase-js sign-up\'s access token with the signing key (alg, kid) or HS256 without kid', async () => {
    const { data, error } = await authClient().auth.signUp({ email: newEmail('signup'), password: newPassword() });
    expect(error).toBeNull();
    const header = headerOf(data.session!.access_token);
    expect(header).toEqual(es256 ? { alg: 'ES256', kid: stack.SIGNING_KEYS[0]!.kid, typ: 'JWT' } : { alg: 'HS256', typ: 'JWT' });
    expect(verifyToken(data.session!.access_token)).toMatchObject({ role: 'authenticated', sub: data.user!.id });
  });

  it('signs the legacy anon and service_role keys as the CLI does in this mode', () => {
    for (const [key, role] of [[stack.ANON_KEY, 'anon'], [stack.SERVICE_ROLE_KEY, 'service_role']] as const) {
      expect(headerOf(key)).toEqual(es256 ? { alg: 'ES256', kid: stack.SIGNING_KEYS[0]!.kid, typ: 'JWT' } : { alg: 'HS256', typ: 'JWT' });
      const claims = verifyToken(key)!;
      expect(Object.keys(claims)).toEqual(['iss', 'role', 'exp']);
      expect(claims).toMatchObject({ iss: 'supabase-demo', role });
      if (es256) expect(claims.exp).toBeGreaterThan(Date.now() / 1000 + 9 * 365 * 24 * 3600);
      else expect(claims.exp).toBe(1983812996);
    }
  });

  it.each(SUPABASE_JS_VERSIONS)('auth.getClaims() of supabase-js (%s) verifies the session\'s token', async (_, create) => {
    const client = authClient({ create });
    const email = newEmail('claims');
    const signIn = await client.auth.signUp({ email, password: newPassword() });
    expect(signIn.error).toBeNull();
    const { data, error } = await client.auth.getClaims();
    expect(error).toBeNull();
    expect(data!.claims).toMatchObject({ sub: signIn.data.user!.id, email, role: 'authenticated' });
    expect(data!.header.alg).toBe(es256 ? 'ES256' : 'HS256');
    // A forged token is refused: locally against the JWKS (es256), by GET /user (hs256).
    const forged = await client.auth.getClaims(forgedTokenFor({ id: signIn.data.user!.id, email }));
    expect(forged.data).toBeNull();
    expect(forged.error).not.toBeNull();
  });

  it('serves the SQL API and the sync function with the token, through supabase-js on the client key', async () => {
    const client = authClient();
    const email = newEmail('both');
    const password = newPassword();
    expect((await client.auth.signUp({ email, password })).error).toBeNull();
    const vaultId = randomUUID();
    const created = await client.rpc('create_vault', {
      vault_id: vaultId, encrypted_vault_key: randomBytes(30).toString('base64'), salt: 'c2FsdA==', nonce: 'bm9uY2U=',
    });
    expect(created.error).toBeNull();
    const { data: session } = await client.auth.getSession();
    const listed = await client.functions.invoke('sync/vaults', { method: 'GET' });
    expect(listed.error).toBeNull();
    expect((listed.data as { vaults: { vaultId: string }[] }).vaults.map((v) => v.vaultId)).toEqual([vaultId]);
    expect(session.session?.access_token).toBeTruthy();
  });
});

describe('publishable and secret keys', () => {
  it('maps the publishable key to anon and the secret key to service_role, as the CLI\'s gateway', async () => {
    // auth.role() as PostgREST sets it, through an rpc every role may call.
    const whoami = async (apikey: string) => (await api('/rest/v1/rpc/list_vaults', { method: 'POST', apikey, body: {} })).status;
    expect(await whoami(stack.PUBLISHABLE_KEY)).toBe(401); // anon: list_vaults needs a user (PT401)
    const admin = authClient({ key: stack.SECRET_KEY });
    const listed = await admin.auth.admin.listUsers({ page: 1, perPage: 1 });
    expect(listed.error).toBeNull();
    const asPublishable = await authClient({ key: stack.PUBLISHABLE_KEY }).auth.admin.listUsers({ page: 1, perPage: 1 });
    expect(asPublishable.error?.status).toBe(403);
  });

  it('lets a user\'s JWT decide the role next to the publishable key', async () => {
    const res = await api('/rest/v1/rpc/list_vaults', { method: 'POST', apikey: stack.PUBLISHABLE_KEY, token: user.access_token, body: {} });
    expect(res.status).toBe(200);
    // `Authorization: Bearer sb_…` (what supabase-js sends without a session) is replaced, as the CLI's Kong does.
    const withSbBearer = await api('/auth/v1/admin/users?per_page=1', { apikey: stack.SECRET_KEY, token: stack.SECRET_KEY });
    expect(withSbBearer.status).toBe(200);
  });

  it('refuses keys that only look like the project\'s', async () => {
    for (const apikey of ['sb_publishable_not-this-projects-key', 'sb_secret_not-this-projects-key', `${stack.SECRET_KEY}x`]) {
      // The gateway refuses them before PostgREST or Auth, as hosted Supabase's (stack/api-key-check.ts).
      expect((await api('/rest/v1/rpc/list_vaults', { method: 'POST', apikey, body: {} })).body, apikey).toEqual(UNREGISTERED_API_KEY);
      expect((await api('/auth/v1/admin/users', { apikey })).status, apikey).toBe(401);
    }
  });
});

/** Tokens with the user's claims that must never pass, one per way a verifier goes wrong. */
function forgeries(victim: StackUser): Record<string, string> {
  const claims = verifyToken(victim.access_token)!;
  const body = b64url(claims);
  const kid = stack.SIGNING_KEYS[0]?.kid;
  const otherEc = { ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }), alg: 'ES256' } as SigningJwk;
  const otherRsa = { ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }), alg: 'RS256' } as SigningJwk;
  const real = stack.SIGNING_KEYS[0];
  const forged: Record<string, string> = {
    'alg none, no signature': `${b64url({ alg: 'none', typ: 'JWT' })}.${body}.`,
    'alg none with the kid': `${b64url({ alg: 'none', kid, typ: 'JWT' })}.${body}.`,
    'HS256 with a wrong secret': signJwt(claims, 'not-the-secret-but-long-enough-to-look-real-0123456789'),
    'ES256 of another key under an unknown kid': signJwtWithKey(claims, { ...otherEc, kid: 'not-a-kid-of-this-project' }),
    'ES256 of another key under the project\'s kid': signJwtWithKey(claims, { ...otherEc, kid: kid ?? 'kid' }),
    'RS256 of another key under the project\'s kid': signJwtWithKey(claims, { ...otherRsa, kid: kid ?? 'kid' }),
    'ES256 without kid': signJwtWithKey(claims, otherEc),
    'the user\'s token with the payload swapped': `${victim.access_token.split('.')[0]}.${b64url({ ...claims, sub: randomUUID() })}.${victim.access_token.split('.')[2]}`,
    'expired, genuinely signed': expiredTokenFor(victim),
  };
  if (real) {
    // Algorithm confusion: HS256 keyed with the public key's JSON, with and without the kid.
    const publicText = JSON.stringify(publicJwk(real));
    forged['HS256 keyed with the public JWK, kid kept'] = (() => {
      const head = b64url({ alg: 'HS256', kid, typ: 'JWT' });
      return `${head}.${body}.${signJwt(claims, publicText).split('.')[2]}`;
    })();
    forged['HS256 with the legacy JWT secret (not a key in this mode)'] = signJwt(claims, stack.JWT_SECRET);
  }
  return forged;
}

describe('forged tokens of every kind', () => {
  it('get 401 from the sync function itself (invalid_jwt, token_expired for a genuine expired one)', async () => {
    const seen = Object.fromEntries(await Promise.all(Object.entries(forgeries(user)).map(async ([name, token]) => {
      const res = await api(`${F}/vaults`, { token });
      return [name, `${res.status} ${res.body?.error?.code}`];
    })));
    const expected = Object.fromEntries(Object.keys(seen).map((name) =>
      [name, name.startsWith('expired') ? '401 token_expired' : '401 invalid_jwt']));
    expect(seen).toEqual(expected);
    expect((await api(`${F}/vaults`, { token: user.access_token })).status).toBe(200);
  });

  it('get 401 from PostgREST and 403 bad_jwt from Auth', async () => {
    const seen = Object.fromEntries(await Promise.all(Object.entries(forgeries(user)).map(async ([name, token]) => {
      const rest = await api('/rest/v1/rpc/list_vaults', { method: 'POST', token, body: {} });
      const auth = await authHttp('/user', { token });
      return [name, `${rest.status} ${auth.status} ${auth.body?.code}`];
    })));
    expect(seen).toEqual(Object.fromEntries(Object.keys(seen).map((name) => [name, '401 403 bad_jwt'])));
  });
});

describe('the sync function\'s auth answers', () => {
  it('tells a missing header, a wrong scheme, an expired and a forged token apart', async () => {
    const call = (authorization?: string) => fetch(`${stack.API_URL}${F}/vaults`, {
      headers: { apikey: stack.CLIENT_KEY, ...(authorization ? { authorization } : {}) },
    }).then(async (r) => [r.status, (await r.json()).error?.code, r.headers.get('www-authenticate')]);
    // Without Authorization the gateway adds the client key's role token (as the CLI's Kong): not a user.
    expect(await fetch(`${stack.API_URL}${F}/vaults`).then(async (r) => [r.status, (await r.json()).error.code]))
      .toEqual([401, 'missing_authorization']);
    expect(await call()).toEqual([401, 'invalid_jwt', 'Bearer']);
    expect(await call(`Basic ${Buffer.from('a:b').toString('base64')}`)).toEqual([401, 'invalid_authorization_scheme', 'Bearer']);
    expect(await call(user.access_token)).toEqual([401, 'invalid_authorization_scheme', 'Bearer']);
    expect(await call(`Bearer ${expiredTokenFor(user)}`)).toEqual([401, 'token_expired', 'Bearer']);
    expect(await call(`Bearer ${forgedTokenFor(user)}`)).toEqual([401, 'invalid_jwt', 'Bearer']);
    const expired = await api(`${F}/vaults`, { token: expiredTokenFor(user) });
    expect(expired.body.error.message).toMatch(/refresh/);
  });

  it('serves GET /functions/v1/sync/ without any credential (the health route)', async () => {
    for (const path of [`${F}/`, F]) {
      const res = await fetch(`${stack.API_URL}${path}`);
      expect(res.status, path).toBe(200);
      expect(Object.keys(await res.json()).sort()).toEqual(['env', 'name', 'status', 'version']);
    }
  });

  it('accepts a token signed now by the stack\'s own key, not only Auth\'s sessions', async () => {
    // The user's own claims (its live session: the database checks it since issue 19), signed now.
    const now = Math.floor(Date.now() / 1000);
    const token = signToken({ ...verifyToken(user.access_token)!, iat: now, exp: now + 60 });
    expect(token).not.toBe(user.access_token);
    expect((await api(`${F}/vaults`, { token })).status).toBe(200);
    expect(verifyToken(signToken({ role: 'anon', exp: Math.floor(Date.now() / 1000) + 60 }))).not.toBeNull();
  });
});
