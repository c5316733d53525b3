import assert from 'node:assert/strict';
import { jwtKey, requireUser, requireVerifiedUser } from '../_shared/auth.ts';
import { mapDirectError } from '../_shared/db-direct.ts';
import { HttpError } from '../_shared/errors.ts';
import postgres from 'postgres';

const SECRET = 'test-secret-with-at-least-32-characters!';
const NOW = Date.UTC(2026, 10, 27);
const nowSec = NOW / 1000;
const user = { sub: '6f1c1f7e-0b7a-4d0e-9a53-3a8c2f5b9d10', role: 'authenticated', exp: nowSec + 3600 };

const b64url = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const seg = (value: unknown) => b64url(new TextEncoder().encode(JSON.stringify(value)));

async function sign(claims: unknown, secret = SECRET, header: unknown = { alg: 'HS256', typ: 'JWT' }): Promise<string> {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false,
    ['sign']);
  const input = `${seg(header)}.${seg(claims)}`;
  return `${input}.${b64url(new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(input))))}`;
}

async function rejects(token: string, message: RegExp) {
  const key = await jwtKey(SECRET);
  await assert.rejects(requireVerifiedUser(`Bearer ${token}`, key, NOW), (e: unknown) => {
    assert.ok(e instanceof HttpError);
    assert.equal(e.status, 401);
    assert.match(e.message, message);
    return true;
  });
}

Deno.test('requireVerifiedUser: a valid HS256 user token', async () => {
  const token = await sign(user);
  const caller = await requireVerifiedUser(`Bearer ${token}`, await jwtKey(SECRET), NOW);
  assert.equal(caller.userId, user.sub);
  assert.deepEqual(caller.claims, user);
  assert.equal(caller.authorization, `Bearer ${token}`);
});

Deno.test('requireVerifiedUser: expired, or without exp', async () => {
  await rejects(await sign({ ...user, exp: nowSec - 1 }), /expired/);
  await rejects(await sign({ ...user, exp: nowSec }), /expired/);
  await rejects(await sign({ sub: user.sub, role: 'authenticated' }), /without exp/);
});

Deno.test('requireVerifiedUser: forged or tampered signature', async () => {
  await rejects(await sign(user, 'another-secret-another-secret-another'), /signature/);
  const [h, , s] = (await sign(user)).split('.');
  await rejects(`${h}.${seg({ ...user, sub: '00000000-0000-4000-8000-000000000000' })}.${s}`, /signature/);
  await rejects(`${h}.${seg(user)}.`, /malformed/); // no signature at all: not even a JWT's shape
});

Deno.test('requireVerifiedUser: alg none and other algorithms', async () => {
  await rejects(`${seg({ alg: 'none', typ: 'JWT' })}.${seg(user)}.`, /malformed/);
  await rejects(`${seg({ alg: 'none', typ: 'JWT' })}.${seg(user)}.${(await sign(user)).split('.')[2]}`, /HS256/);
  await rejects(await sign(user, SECRET, { alg: 'HS512', typ: 'JWT' }), /HS256/);
  await rejects(await sign(user, SECRET, { typ: 'JWT' }), /HS256/);
  // requireUser (rest path, PostgREST verifies) would have accepted the unsigned token: the reason for this check.
  assert.equal(requireUser(`Bearer ${seg({ alg: 'none' })}.${seg(user)}.${(await sign(user)).split('.')[2]}`, NOW).userId, user.sub);
});

Deno.test('requireVerifiedUser: wrong role, no sub, malformed', async () => {
  await rejects(await sign({ ...user, role: 'anon' }), /signed-in user/);
  await rejects(await sign({ ...user, role: 'service_role' }), /signed-in user/);
  await rejects(await sign({ role: 'authenticated', exp: user.exp }), /signed-in user/);
  await rejects('a.b.c', /malformed/);
  const key = await jwtKey(SECRET);
  await assert.rejects(requireVerifiedUser(null, key, NOW), (e: unknown) => e instanceof HttpError && e.status === 401);
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

Deno.test('requireVerifiedUser: bent spellings of a valid token (unused bits set, padding) are refused', async () => {
  const token = await sign(user);
  const [header, payload, signature] = token.split('.') as [string, string, string];
  // 32 signature bytes = 43 characters; the last carries 2 unused bits. Flipping one keeps the bytes.
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const bent = alphabet[alphabet.indexOf(signature.at(-1)!) ^ 1]!;
  await rejects(`${header}.${payload}.${signature.slice(0, -1)}${bent}`, /malformed/);
  await rejects(`${header}.${payload}.${signature}=`, /bearer JWT|malformed/);
});
