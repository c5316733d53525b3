import assert from 'node:assert/strict';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { type AuthKeys, authKeysFromEnv, bearerToken, UserVerifier } from '../_shared/auth.ts';
import { mapDirectError } from '../_shared/db-direct.ts';
import { HttpError } from '../_shared/errors.ts';
import postgres from 'postgres';

const SECRET = 'test-secret-with-at-least-32-characters!';
const SUB = '6f1c1f7e-0b7a-4d0e-9a53-3a8c2f5b9d10';
const now = () => Math.floor(Date.now() / 1000);
const userClaims = () => ({ sub: SUB, role: 'authenticated', aud: 'authenticated', exp: now() + 3600 });

const es = await generateKeyPair('ES256', { extractable: true });
const other = await generateKeyPair('ES256', { extractable: true });
const rs = await generateKeyPair('RS256', { extractable: true });
const KID = 'es-key-1';
const RS_KID = 'rs-key-1';
const publicJwks = {
  keys: [
    { ...(await exportJWK(es.publicKey)), kid: KID, alg: 'ES256', use: 'sig' },
    { ...(await exportJWK(rs.publicKey)), kid: RS_KID, alg: 'RS256', use: 'sig' },
  ],
};
const legacyOct = { kty: 'oct', k: btoa(SECRET).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '') };

/** Keys as the CLI provisions them: with signing keys (public JWKs), or legacy (the secret as a kid-less oct key). */
const signingMode = (): AuthKeys => authKeysFromEnv((n) => ({ SUPABASE_JWKS: JSON.stringify(publicJwks) } as Record<string, string>)[n]);
const legacyMode = (): AuthKeys => authKeysFromEnv((n) => ({ SUPABASE_JWKS: JSON.stringify({ keys: [legacyOct] }) } as Record<string, string>)[n]);

const sign = (claims: Record<string, unknown>, key: CryptoKey | Uint8Array, header: Record<string, unknown>) =>
  new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(key);
const hs256 = (claims: Record<string, unknown>, secret = SECRET, header: Record<string, unknown> = { alg: 'HS256', typ: 'JWT' }) =>
  sign(claims, new TextEncoder().encode(secret), header);
const b64 = (value: unknown) => btoa(JSON.stringify(value)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

async function refused(keys: AuthKeys, authorization: string | null, code: string) {
  await assert.rejects(new UserVerifier(keys).authenticate(authorization), (e: unknown) => {
    assert.ok(e instanceof HttpError, String(e));
    assert.equal(e.status, 401);
    assert.equal(e.code, code, e.message);
    assert.equal(e.headers?.['www-authenticate'], 'Bearer');
    return true;
  });
}

Deno.test('signing keys: an ES256 and an RS256 user token with a known kid pass', async () => {
  const verifier = new UserVerifier(signingMode());
  const esToken = await sign(userClaims(), es.privateKey, { alg: 'ES256', kid: KID, typ: 'JWT' });
  const rsToken = await sign(userClaims(), rs.privateKey, { alg: 'RS256', kid: RS_KID, typ: 'JWT' });
  assert.equal((await verifier.authenticate(`Bearer ${esToken}`)).userId, SUB);
  assert.equal((await verifier.authenticate(`Bearer ${rsToken}`)).authorization, `Bearer ${rsToken}`);
});

Deno.test('signing keys: alg none, unknown kid, another key under a known kid, HS256 are invalid_jwt', async () => {
  const keys = signingMode();
  const payload = b64(userClaims());
  await refused(keys, `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`, 'invalid_jwt');
  await refused(keys, `Bearer ${b64({ alg: 'none', kid: KID, typ: 'JWT' })}.${payload}.`, 'invalid_jwt');
  await refused(keys, `Bearer ${await sign(userClaims(), es.privateKey, { alg: 'ES256', kid: 'unknown', typ: 'JWT' })}`, 'invalid_jwt');
  await refused(keys, `Bearer ${await sign(userClaims(), other.privateKey, { alg: 'ES256', kid: KID, typ: 'JWT' })}`, 'invalid_jwt');
  // The RS256 key's kid with an ES256 signature of another key, and an HS256 token keyed with the public JWK's text.
  await refused(keys, `Bearer ${await sign(userClaims(), other.privateKey, { alg: 'ES256', kid: RS_KID, typ: 'JWT' })}`, 'invalid_jwt');
  await refused(keys, `Bearer ${await hs256(userClaims(), JSON.stringify(publicJwks.keys[0]), { alg: 'HS256', kid: KID })}`, 'invalid_jwt');
  await refused(keys, `Bearer ${await hs256(userClaims())}`, 'invalid_jwt');
});

Deno.test('signing keys: an expired but genuine token is token_expired, an expired forged one invalid_jwt', async () => {
  const keys = signingMode();
  const old = { ...userClaims(), iat: now() - 7200, exp: now() - 60 };
  await refused(keys, `Bearer ${await sign(old, es.privateKey, { alg: 'ES256', kid: KID, typ: 'JWT' })}`, 'token_expired');
  await refused(keys, `Bearer ${await sign(old, other.privateKey, { alg: 'ES256', kid: KID, typ: 'JWT' })}`, 'invalid_jwt');
});

Deno.test('legacy secret: a kid-less HS256 user token passes; forged, none, expired are refused apart', async () => {
  const keys = legacyMode();
  assert.equal((await new UserVerifier(keys).authenticate(`Bearer ${await hs256(userClaims())}`)).userId, SUB);
  await refused(keys, `Bearer ${await hs256(userClaims(), 'not-the-secret-but-long-enough-0123456789')}`, 'invalid_jwt');
  await refused(keys, `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${b64(userClaims())}.`, 'invalid_jwt');
  await refused(keys, `Bearer ${await hs256({ ...userClaims(), exp: now() - 1 })}`, 'token_expired');
  await refused(keys, `Bearer ${await hs256({ ...userClaims(), exp: now() - 1 }, 'not-the-secret-but-long-enough-0123456789')}`, 'invalid_jwt');
  // An ES256 token is refused where only the legacy secret is known.
  await refused(keys, `Bearer ${await sign(userClaims(), es.privateKey, { alg: 'ES256', kid: KID, typ: 'JWT' })}`, 'invalid_jwt');
});

Deno.test('a token that is not a user\'s: anon/service keys, no sub, no exp, an sb_ API key', async () => {
  const keys = legacyMode();
  await refused(keys, `Bearer ${await hs256({ iss: 'supabase-demo', role: 'anon', exp: now() + 60 })}`, 'invalid_jwt');
  await refused(keys, `Bearer ${await hs256({ iss: 'supabase-demo', role: 'service_role', exp: now() + 60 })}`, 'invalid_jwt');
  await refused(keys, `Bearer ${await hs256({ role: 'authenticated', exp: now() + 60 })}`, 'invalid_jwt');
  await refused(keys, `Bearer ${await hs256({ sub: SUB, role: 'authenticated' })}`, 'invalid_jwt');
  await refused(keys, 'Bearer sb_publishable_ACJWlzQHlZjBrEguHvfOxg_3BJgxAaH', 'invalid_jwt');
  await refused(keys, 'Bearer not.a.jwt', 'invalid_jwt');
});

Deno.test('Authorization header: missing vs a wrong scheme are told apart', async () => {
  const keys = legacyMode();
  const token = await hs256(userClaims());
  await refused(keys, null, 'missing_authorization');
  await refused(keys, '', 'missing_authorization');
  await refused(keys, `Basic ${btoa('user:pass')}`, 'invalid_authorization_scheme');
  await refused(keys, token, 'invalid_authorization_scheme');
  await refused(keys, `Token ${token}`, 'invalid_authorization_scheme');
  assert.equal(bearerToken(`Bearer ${token}`), token);
});

Deno.test('a remembered token is refused once it expires (token_expired)', async () => {
  const verifier = new UserVerifier(legacyMode());
  const token = await hs256({ ...userClaims(), exp: now() + 2 });
  await verifier.authenticate(`Bearer ${token}`);
  await assert.rejects(verifier.authenticate(`Bearer ${token}`, Date.now() + 5000), (e: unknown) =>
    e instanceof HttpError && e.code === 'token_expired');
});

Deno.test('without SUPABASE_JWKS: the JWKS endpoint of SUPABASE_URL and SUPABASE_JWT_SECRET as legacy secret', () => {
  const keys = authKeysFromEnv((n) => ({ SUPABASE_URL: 'https://ref.supabase.co/', SUPABASE_JWT_SECRET: SECRET } as Record<string, string>)[n]);
  assert.equal(String(keys.jwks), 'https://ref.supabase.co/auth/v1/.well-known/jwks.json');
  assert.deepEqual(keys.legacySecret, new TextEncoder().encode(SECRET));
  assert.equal(signingMode().legacySecret, null);
});

Deno.test('mapDirectError: PTxyz with detail as the rest path', () => {
  // deno-lint-ignore no-explicit-any
  const pgError = (fields: Record<string, string>) => new (postgres.PostgresError as any)(fields) as Error;
  const e = mapDirectError(pgError({ code: 'PT400', message: 'logs[3].encrypted_data must be base64', detail: 'logs[3].encrypted_data' }));
  assert.deepEqual([e.status, e.code, e.message, e.details], [400, 'bad_request', 'logs[3].encryptedData must be base64',
    'logs[3].encryptedData']);
  assert.equal(mapDirectError(pgError({ code: 'PT404', message: 'vault not found', detail: 'vault_id' })).status, 404);
  assert.equal(mapDirectError(pgError({ code: '42501', message: 'permission denied' })).status, 403);
  assert.equal(mapDirectError(new Error('ECONNREFUSED')).status, 502); // not a PostgresError: unreachable
  assert.equal(mapDirectError(new HttpError(404, 'not_found', 'vault not found')).status, 404);
});
