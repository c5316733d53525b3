/**
 * Settings of the embedded Auth service that the shared test stack relaxes or cannot show, on a
 * throwaway stack of this file's own: the per-IP limit of `[auth.rate_limit] sign_in_sign_ups`
 * (here 4, so the fifth attempt is refused), `[auth.email] enable_confirmations`,
 * `refresh_token_reuse_interval` (here 1 s, so reuse detection can be waited out) and supabase-js'
 * automatic refresh of a session near its end (`jwt_expiry` here 60 s, inside supabase-js' margin).
 */
import type { SupabaseClient } from '@supabase/supabase-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RateLimiter } from '../stack/auth/rate-limit.ts';
import { verifyJwt } from '../stack/jwt.ts';
import type { RunningStack } from '../stack/stack.ts';
import { ensureUser } from '../stack/users.ts';
import { authClient, authHttp, newEmail, newPassword } from './support/auth.ts';
import { startThrowawayStack } from './support/throwaway-stack.ts';

let stack: RunningStack & { dispose(): Promise<void> };
const SIGN_IN_LIMIT = 4;

beforeAll(async () => {
  stack = await startThrowawayStack({
    quiet: true,
    auth: {
      signInSignUpsPer5Min: SIGN_IN_LIMIT, tokenRefreshesPer5Min: 1000, enableConfirmations: true,
      refreshTokenReuseIntervalSeconds: 1, jwtExpirySeconds: 60,
    },
  });
});
afterAll(async () => { await stack?.dispose(); });

const client = (options: { autoRefreshToken?: boolean } = {}): SupabaseClient =>
  authClient({ url: stack.info.API_URL, key: stack.info.ANON_KEY, ...options });
const http = (path: string, init: Parameters<typeof authHttp>[1] = {}) =>
  authHttp(path, { url: stack.info.API_URL, apikey: stack.info.ANON_KEY, ...init });
/** A signed-in user made through the same code as `npm run user`, which no rate limit counts. */
const signedIn = () => ensureUser(stack.info.DB_URL, newEmail('limits'), {
  jwtSecret: stack.info.JWT_SECRET, apiUrl: stack.info.API_URL, expiresInSeconds: stack.info.JWT_EXPIRY,
});
const refresh = (refresh_token: string) => http('/token?grant_type=refresh_token', { body: { refresh_token } });

describe('sign-in and sign-up attempts per IP ([auth.rate_limit] sign_in_sign_ups)', () => {
  it('counts sign-ups and sign-ins together and refuses the one over the limit with 429 over_request_rate_limit', async () => {
    const email = newEmail('limited');
    const password = newPassword();
    // 1: sign-up with confirmations on: the user, no session (GoTrue waits for the mail's link).
    const up = await client().auth.signUp({ email, password });
    expect(up.error).toBeNull();
    expect(up.data.session).toBeNull();
    expect(up.data.user).toMatchObject({ email, confirmation_sent_at: expect.any(String) });
    expect(up.data.user!.email_confirmed_at).toBeUndefined();
    // 2: the right password of an unconfirmed user.
    expect((await client().auth.signInWithPassword({ email, password })).error)
      .toMatchObject({ status: 400, code: 'email_not_confirmed' });
    // 3, 4: wrong passwords.
    for (let i = 0; i < SIGN_IN_LIMIT - 2; i++) {
      expect((await client().auth.signInWithPassword({ email, password: 'wrong-password' })).error)
        .toMatchObject({ status: 400, code: 'invalid_credentials' });
    }
    // 5: over the limit, whatever the request.
    expect((await client().auth.signInWithPassword({ email, password })).error)
      .toMatchObject({ status: 429, code: 'over_request_rate_limit' });
    expect((await client().auth.signUp({ email: newEmail(), password })).error)
      .toMatchObject({ status: 429, code: 'over_request_rate_limit' });
    const legacy = await http('/token?grant_type=password', { body: { email, password }, apiVersion: null });
    expect(legacy.body).toEqual({ code: 429, error_code: 'over_request_rate_limit', msg: 'Request rate limit reached' });
    // Refreshes have a limit of their own ([auth.rate_limit] token_refresh).
    const user = await signedIn();
    expect((await refresh(user.refresh_token)).status).toBe(200);
  });

  it('refills the limit over 5 minutes, per client address', () => {
    let now = 0;
    const limiter = new RateLimiter(30, () => now);
    for (let i = 0; i < 30; i++) limiter.take('10.0.0.1');
    expect(() => limiter.take('10.0.0.1')).toThrow('Request rate limit reached');
    limiter.take('10.0.0.2'); // another address has its own bucket
    now += 9_999; // 30 per 300 s is one per 10 s
    expect(() => limiter.take('10.0.0.1')).toThrow('Request rate limit reached');
    now += 1;
    limiter.take('10.0.0.1');
    expect(() => limiter.take('10.0.0.1')).toThrow('Request rate limit reached');
  });
});

describe('refresh-token reuse (refresh_token_reuse_interval = 1 s)', () => {
  it('allows the one-behind token of a lost answer, and ends the session on an older one after the interval', async () => {
    const user = await signedIn();
    const t0 = user.refresh_token;
    const t1 = (await refresh(t0)).body.refresh_token as string;
    const t2 = (await refresh(t1)).body.refresh_token as string;
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const lostAnswer = await refresh(t1);
    expect([lostAnswer.status, lostAnswer.body.refresh_token]).toEqual([200, t2]);

    await new Promise((resolve) => setTimeout(resolve, 1200));
    const reused = await refresh(t0);
    expect(`${reused.status} ${reused.body.code}`).toBe('400 refresh_token_already_used');
    // The whole session is gone: its newest refresh token and its access tokens stop working at Auth.
    expect((await refresh(t2)).body.code).toBe('refresh_token_not_found');
    const me = await http('/user', { token: user.access_token });
    expect(`${me.status} ${me.body.code}`).toBe('403 session_not_found');
  });
});

describe('supabase-js automatic refresh', () => {
  it('refreshes a session near its end by itself (POST /token?grant_type=refresh_token)', async () => {
    const user = await signedIn();
    const auto = client({ autoRefreshToken: true });
    const refreshed = new Promise<string>((resolve) => {
      auto.auth.onAuthStateChange((event, session) => { if (event === 'TOKEN_REFRESHED') resolve(session!.refresh_token); });
    });
    expect(stack.info.JWT_EXPIRY).toBe(60);
    const set = await auto.auth.setSession({ access_token: user.access_token, refresh_token: user.refresh_token });
    expect(set.error).toBeNull();
    // The token has 60 s left, inside supabase-js' 90 s margin: reading the session refreshes it.
    await auto.auth.getSession();
    const next = await refreshed;
    expect(next).not.toBe(user.refresh_token);
    const session = (await auto.auth.getSession()).data.session!;
    expect(verifyJwt(session.access_token, stack.info.JWT_SECRET)!.session_id)
      .toBe(verifyJwt(user.access_token, stack.info.JWT_SECRET)!.session_id);
    await auto.auth.stopAutoRefresh();
  });
});
