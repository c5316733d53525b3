/**
 * The gateway's key and token checks (issue 10, item 5), as an attacker tries them:
 *   - an `apikey` that is none of the project's keys is refused by the gateway with hosted Supabase's
 *     401 and body (stack/api-key-check.ts, issue 28); a request without one keeps working;
 *   - every JWT segment must be strict base64url, and only HS256 with the project's secret passes:
 *     `alg: none`, HS512, an RS256 header over an HS256 signature, truncated, padded and bent tokens
 *     are refused by stack/jwt.ts, by the sync function and PostgREST as bearer, and as apikey.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { createClient } from '@supabase/supabase-js';
import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { INVALID_API_KEY, UNREGISTERED_API_KEY } from '../stack/api-key-check.ts';
import { signJwt, verifyJwt } from '../stack/jwt.ts';
import type { StackUser } from '../stack/users.ts';
import { api, newUser, stack } from './support/stack.ts';

const b64url = (value: string | Buffer) => Buffer.from(value).toString('base64url');
const sign = (alg: 'sha256' | 'sha512', input: string, secret: string) => createHmac(alg, secret).update(input).digest('base64url');

/** Tokens with a user's claims that must never pass, each a way a lenient verifier goes wrong. */
function badTokens(valid: string, secret: string): Record<string, string> {
  const [header, payload, signature] = valid.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
  const withHeader = (h: object, alg: 'sha256' | 'sha512' = 'sha256') => {
    const head = b64url(JSON.stringify(h));
    return `${head}.${payload}.${sign(alg, `${head}.${payload}`, secret)}`;
  };
  // The signature is 32 bytes = 43 characters; the last one carries 2 unused bits. Flipping them gives
  // another spelling of the same bytes, which a lenient decoder accepts.
  const last = signature.at(-1)!;
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const sameBytes = alphabet[alphabet.indexOf(last) ^ 1]!;
  return {
    'alg none, no signature': `${b64url(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${payload}.`,
    'alg none, HS256 signature kept': `${b64url(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${payload}.${signature}`,
    'HS512 signed with the secret': withHeader({ alg: 'HS512', typ: 'JWT' }, 'sha512'),
    'RS256 header over an HS256 signature': withHeader({ alg: 'RS256', typ: 'JWT' }),
    'lower-case alg': withHeader({ alg: 'hs256', typ: 'JWT' }),
    'truncated signature': `${header}.${payload}.${signature.slice(0, -1)}`,
    'no signature': `${header}.${payload}.`,
    'two segments': `${header}.${payload}`,
    'four segments': `${valid}.${signature}`,
    'padded signature': `${valid}=`,
    'padded payload, re-signed': (() => {
      const padded = `${payload}${'='.repeat((4 - (payload.length % 4)) % 4 || 4)}`;
      return `${header}.${padded}.${sign('sha256', `${header}.${padded}`, secret)}`;
    })(),
    'standard-alphabet header, re-signed': (() => {
      // '?' (0x3F) makes base64url write '_' or '-' somewhere; the standard alphabet has '/' or '+' there.
      const head = [0, 1, 2].map((n) => b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: `${'?'.repeat(n)}?>?` })))
        .find((h) => /[-_]/.test(h))!;
      const std = head.replace(/-/g, '+').replace(/_/g, '/');
      return `${std}.${payload}.${sign('sha256', `${std}.${payload}`, secret)}`;
    })(),
    'bent: unused bits of the signature set': `${header}.${payload}.${signature.slice(0, -1)}${sameBytes}`,
    'bent: a character outside the alphabet in the signature': `${header}.${payload}.${signature.slice(0, 10)}!${signature.slice(10)}`,
    'bent: a space in the payload, re-signed': (() => {
      const bent = `${payload.slice(0, 8)} ${payload.slice(8)}`;
      return `${header}.${bent}.${sign('sha256', `${header}.${bent}`, secret)}`;
    })(),
    'payload that is a JSON array, re-signed': (() => {
      const arr = b64url(JSON.stringify([claims]));
      return `${header}.${arr}.${sign('sha256', `${header}.${arr}`, secret)}`;
    })(),
    'exp as a string, re-signed': signJwt({ ...claims, exp: String(claims.exp) }, secret),
    // Past PostgREST's 30 s clock-skew allowance (it accepts a token up to 30 s after exp).
    'expired, re-signed': signJwt({ ...claims, exp: Math.floor(Date.now() / 1000) - 120 }, secret),
  };
}

let user: StackUser;
let bad: Record<string, string>;
beforeAll(async () => {
  user = await newUser('keys');
  bad = badTokens(user.access_token, stack.JWT_SECRET);
});

describe('stack/jwt.ts verifyJwt', () => {
  it('accepts the user\'s own token and the project keys', () => {
    for (const token of [user.access_token, stack.ANON_KEY, stack.SERVICE_ROLE_KEY]) {
      expect(verifyJwt(token, stack.JWT_SECRET)).not.toBeNull();
    }
  });

  it('refuses every bent, truncated, padded, alg-confused or unsigned variant', () => {
    const accepted = Object.entries(bad).filter(([, token]) => verifyJwt(token, stack.JWT_SECRET) !== null).map(([name]) => name);
    expect(accepted).toEqual([]);
  });
});

describe('gateway', () => {
  it('refuses each bad token as the bearer of a function (verify_jwt) and of /rest/v1', async () => {
    const seen: Record<string, [number, number]> = {};
    for (const [name, token] of Object.entries(bad)) {
      const fn = await api('/functions/v1/sync/vaults', { token });
      const rest = await api('/rest/v1/vaults?select=id', { token });
      seen[name] = [fn.status, rest.status];
    }
    expect(seen).toEqual(Object.fromEntries(Object.keys(bad).map((name) => [name, [401, 401]])));
    // the control: the user's own token passes both
    expect((await api('/functions/v1/sync/vaults', { token: user.access_token })).status).toBe(200);
    expect((await api('/rest/v1/vaults?select=id', { token: user.access_token })).status).toBe(200);
  });

  it('refuses every bad token as apikey with hosted Supabase\'s 401 Invalid API key, on /rest/v1 and /auth/v1', async () => {
    const resigned = signJwt({ iss: 'supabase-demo', role: 'anon', exp: 1983812996, iat: 1 }, stack.JWT_SECRET);
    const apikeys: Record<string, string> = {
      'the anon key with a character appended': `${stack.ANON_KEY}A`,
      // validly signed JWTs that are not one of the project's keys: hosted's gateway knows its keys
      'the user\'s own access token': user.access_token,
      'an anon JWT re-signed with the project\'s secret': resigned,
      ...bad,
    };
    const seen = Object.fromEntries(await Promise.all(Object.entries(apikeys).map(async ([name, apikey]) => {
      const rest = await api('/rest/v1/rpc/list_vaults', { method: 'POST', apikey, body: {} });
      const auth = await api('/auth/v1/user', { apikey, token: user.access_token });
      return [name, [rest.status, rest.body, auth.status, auth.body]];
    })));
    expect(seen).toEqual(Object.fromEntries(Object.keys(apikeys).map((name) => [name, [401, INVALID_API_KEY, 401, INVALID_API_KEY]])));
    // the controls: each of the project's keys passes, as header and as query parameter
    expect((await api('/rest/v1/', { apikey: stack.ANON_KEY })).status).toBe(200);
    expect((await api('/rest/v1/', { apikey: stack.SERVICE_ROLE_KEY })).status).toBe(200);
    expect((await api('/rest/v1/', { apikey: stack.PUBLISHABLE_KEY })).status).toBe(200);
    expect((await api('/rest/v1/', { apikey: stack.SECRET_KEY })).status).toBe(200);
    expect((await api(`/rest/v1/?apikey=${stack.ANON_KEY}`, { apikey: null })).status).toBe(200);
  });
});

describe('a wrong apikey (issue 28): refused as hosted Supabase\'s gateway does, before any service sees it', () => {
  const email = () => `wrong-key-${randomUUID()}@test.haex.local`;

  it('sb_ keys the project does not have: 401 Unregistered API key on every route that reads one, websocket included', async () => {
    for (const apikey of ['sb_publishable_WRONGKEY123', 'sb_secret_not-this-projects-key', `${stack.PUBLISHABLE_KEY}x`]) {
      const answers = [
        await api('/rest/v1/rpc/list_vaults', { method: 'POST', apikey, body: {} }),
        await api('/rest/v1/vaults?select=id', { apikey, token: user.access_token }),
        await api('/auth/v1/signup', { apikey, body: { email: email(), password: 'a login password' } }),
        await api('/auth/v1/token?grant_type=password', { apikey, body: { email: user.email, password: 'whatever' } }),
        await api('/auth/v1/admin/users', { apikey }),
        await api('/functions/v1/sync/vaults', { apikey, token: user.access_token }),
        await api('/realtime/v1/api/broadcast', { apikey, body: { messages: [] } }),
        await api(`/rest/v1/vaults?select=id&apikey=${apikey}`, { apikey: null, token: user.access_token }),
      ];
      expect(answers.map((a) => [a.status, a.body]), apikey).toEqual(answers.map(() => [401, UNREGISTERED_API_KEY]));
      expect(await upgradeAnswer(apikey), apikey).toEqual({ status: 401, body: UNREGISTERED_API_KEY });
    }
  });

  it('any other unknown value: 401 Invalid API key on /rest/v1, /auth/v1 and Realtime; functions pass it through, as the platform', async () => {
    const apikey = 'totallywrong';
    const answers = [
      await api('/rest/v1/rpc/list_vaults', { method: 'POST', apikey, body: {} }),
      await api('/auth/v1/signup', { apikey, body: { email: email(), password: 'a login password' } }),
      await api('/realtime/v1/api/broadcast', { apikey, body: { messages: [] } }),
    ];
    expect(answers.map((a) => [a.status, a.body])).toEqual(answers.map(() => [401, INVALID_API_KEY]));
    expect(await upgradeAnswer(apikey)).toEqual({ status: 401, body: INVALID_API_KEY });
    expect((await api('/functions/v1/sync/vaults', { apikey, token: user.access_token })).status).toBe(200);
  });

  it('through unmodified supabase-js: sign-up and rpc fail with the gateway\'s message', async () => {
    const client = createClient(stack.API_URL, 'sb_publishable_WRONGKEY123', {
      auth: { persistSession: false, autoRefreshToken: false }, realtime: { transport: WebSocket as never },
    });
    const signUp = await client.auth.signUp({ email: email(), password: 'a login password' });
    expect({ status: signUp.error?.status, message: signUp.error?.message }).toEqual({ status: 401, message: 'Unregistered API key' });
    const rpcAnswer = await client.rpc('list_vaults');
    expect({ status: rpcAnswer.status, message: rpcAnswer.error?.message }).toEqual({ status: 401, message: 'Unregistered API key' });
  });

  it('a request without any apikey keeps working (as on supabase start), and so do Auth\'s open routes and CORS preflights', async () => {
    const address = email();
    const signUp = await api('/auth/v1/signup', { apikey: null, body: { email: address, password: 'a login password' } });
    expect(signUp.status).toBe(200);
    const signIn = await api('/auth/v1/token?grant_type=password', { apikey: null, body: { email: address, password: 'a login password' } });
    expect(signIn.status).toBe(200);
    expect((await api('/rest/v1/rpc/list_vaults', { method: 'POST', apikey: null, token: signIn.body.access_token, body: {} })).status).toBe(200);
    expect((await api('/auth/v1/.well-known/jwks.json', { apikey: 'totallywrong' })).status).toBe(200);
    expect((await api('/rest/v1/vaults', { method: 'OPTIONS', apikey: 'sb_publishable_WRONGKEY123' })).status).toBe(204);
  });
});

/** The HTTP answer to a Realtime websocket upgrade with this apikey (status and JSON body), or 101. */
function upgradeAnswer(apikey: string): Promise<{ status: number; body?: unknown }> {
  const url = `${stack.API_URL.replace(/^http/, 'ws')}/realtime/v1/websocket?apikey=${encodeURIComponent(apikey)}&vsn=2.0.0`;
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.on('open', () => { socket.close(); resolve({ status: 101 }); });
    socket.on('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => { text += chunk; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    socket.on('error', (error) => { if (!/Unexpected server response/.test(error.message)) reject(error); });
  });
}
