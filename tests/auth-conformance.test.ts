/**
 * Auth as GoTrue serves it where the embedded stand-in used to differ (issue 17 item 6, issue 16
 * item 6), each checked against GoTrue's source:
 *   - sign-up of an existing email: `user_already_exists` without confirmations; with
 *     `enable_confirmations` on, signup.go's sanitizeUser answer (a made-up user), so the answer
 *     does not reveal that the email has an account;
 *   - a sign-up without email and phone is an anonymous sign-in: 422 anonymous_provider_disabled;
 *   - admin createUser / updateUserById store user_metadata as given; identity claims stay in
 *     identities[].identity_data; `email_verified` appears only on confirmation;
 *   - the JWKS route exists in every mode.
 * The confirmations-on service runs in-process on the shared stack's database with that one
 * setting changed (no second stack).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthService, type AuthService } from '../stack/auth/index.ts';
import { loadConfig } from '../stack/config.ts';
import { adminClient, authClient, authHttp, newEmail, newPassword } from './support/auth.ts';
import { adminSql, stack } from './support/stack.ts';

/** An Auth service with enable_confirmations on, served on a port of its own (paths without /auth/v1). */
let confirming: { auth: AuthService; server: http.Server; url: string };
beforeAll(async () => {
  const settings = { ...loadConfig().auth, enableConfirmations: true, signInSignUpsPer5Min: 1_000_000 };
  const auth = createAuthService({ dbUrl: stack.DB_URL, jwtSecret: stack.JWT_SECRET, signingKeys: stack.SIGNING_KEYS, apiUrl: stack.API_URL, settings, log: () => {} });
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://auth');
    auth.handle(req, res, url, url.pathname, req.headers.authorization);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  confirming = { auth, server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
});
afterAll(async () => {
  confirming.server.close();
  await confirming.auth.close();
});

const signUpWithConfirmations = async (body: Record<string, unknown>) => {
  const res = await fetch(`${confirming.url}/signup`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-supabase-api-version': '2024-01-01' }, body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() as Record<string, any> };
};

describe('sign-up of an email that has an account', () => {
  it('without confirmations: 422 user_already_exists, as GoTrue with autoconfirm', async () => {
    const email = newEmail('dup');
    expect((await authClient().auth.signUp({ email, password: newPassword() })).error).toBeNull();
    const again = await authHttp('/signup', { body: { email, password: newPassword() } });
    expect([again.status, again.body.code]).toEqual([422, 'user_already_exists']);
  });

  it('with confirmations: an answer shaped like a fresh sign-up\'s, with a made-up id, nothing of the real user', async () => {
    const email = newEmail('enum');
    const first = await signUpWithConfirmations({ email, password: newPassword(), data: { name: 'real' } });
    expect(first.status).toBe(200);
    await adminSql()`update auth.users set email_confirmed_at = now() where id = ${first.body.id}`;
    const fresh = await signUpWithConfirmations({ email: newEmail('fresh'), password: newPassword(), data: { name: 'x' } });
    const probe = await signUpWithConfirmations({ email, password: newPassword(), data: { name: 'probe' } });
    expect(probe.status).toBe(200);
    expect(probe.body.id).not.toBe(first.body.id);
    expect(Object.keys(probe.body).sort()).toEqual(Object.keys(fresh.body).sort());
    expect(probe.body).toMatchObject({
      email, aud: 'authenticated', role: 'authenticated', user_metadata: { name: 'probe' }, identities: [],
      app_metadata: { provider: 'email', providers: ['email'] },
    });
    expect(probe.body.email_confirmed_at).toBeUndefined();
    expect(probe.body.confirmation_sent_at).toEqual(expect.any(String));
    const [count] = await adminSql()`select count(*)::int as n from auth.users where email = ${email}`;
    expect(count!.n).toBe(1);
  });

  it('with confirmations: a not yet confirmed user is answered as it is (GoTrue would send the mail again)', async () => {
    const email = newEmail('unconfirmed');
    const first = await signUpWithConfirmations({ email, password: newPassword() });
    const again = await signUpWithConfirmations({ email, password: newPassword() });
    expect([again.status, again.body.id]).toEqual([200, first.body.id]);
  });
});

describe('GoTrue conformance', () => {
  it('a sign-up without email and phone is an anonymous sign-in, off by default: 422 anonymous_provider_disabled', async () => {
    for (const body of [{}, { password: newPassword() }, { data: { a: 1 } }]) {
      const res = await authHttp('/signup', { body });
      expect([res.status, res.body.code], JSON.stringify(body)).toEqual([422, 'anonymous_provider_disabled']);
    }
    const { error } = await authClient().auth.signInAnonymously();
    expect(error).toMatchObject({ status: 422, code: 'anonymous_provider_disabled' });
  });

  it('admin createUser stores user_metadata as given; the identity keeps the claims; email_verified only on confirmation', async () => {
    const admin = adminClient();
    const unconfirmed = await admin.auth.admin.createUser({ email: newEmail('meta'), password: newPassword(), user_metadata: { plan: 'free' } });
    expect(unconfirmed.error).toBeNull();
    expect(unconfirmed.data.user!.user_metadata).toEqual({ plan: 'free' });
    expect(unconfirmed.data.user!.identities![0]!.identity_data).toMatchObject({ sub: unconfirmed.data.user!.id, email_verified: false });
    const confirmed = await admin.auth.admin.createUser({ email: newEmail('meta'), password: newPassword(), email_confirm: true, user_metadata: { plan: 'pro' } });
    expect(confirmed.data.user!.user_metadata).toEqual({ plan: 'pro', email_verified: true });
    // updateUserById: metadata merged as given; confirming adds email_verified, in the identity too.
    const updated = await admin.auth.admin.updateUserById(unconfirmed.data.user!.id, { user_metadata: { theme: 'dark' }, email_confirm: true });
    expect(updated.error).toBeNull();
    expect(updated.data.user!.user_metadata).toEqual({ plan: 'free', theme: 'dark', email_verified: true });
    expect(updated.data.user!.identities![0]!.identity_data).toMatchObject({ email_verified: true });
    const plain = await admin.auth.admin.updateUserById(confirmed.data.user!.id, { user_metadata: { theme: 'light' } });
    expect(plain.data.user!.user_metadata).toEqual({ plan: 'pro', email_verified: true, theme: 'light' });
  });

  it('serves /auth/v1/.well-known/jwks.json without any key, as GoTrue always does', async () => {
    const res = await fetch(`${stack.API_URL}/auth/v1/.well-known/jwks.json`);
    expect(res.status).toBe(200);
    expect(Array.isArray(((await res.json()) as { keys: unknown[] }).keys)).toBe(true);
  });
});
