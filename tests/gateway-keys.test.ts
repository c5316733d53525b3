/**
 * The gateway's key and token checks (issue 10, item 5), as an attacker tries them:
 *   - `apikey` is passed on as the bearer where no Authorization is given, as the CLI's Kong does
 *     (no key list is checked): a forged or bent key is then refused by PostgREST (401) and Auth (403);
 *   - every JWT segment must be strict base64url, and only HS256 with the project's secret passes:
 *     `alg: none`, HS512, an RS256 header over an HS256 signature, truncated, padded and bent tokens
 *     are refused by stack/jwt.ts, by the sync function and PostgREST as bearer, and as apikey.
 */
import { createHmac } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
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

  it('passes any apikey on as the bearer (the CLI\'s Kong): a bad one is refused by PostgREST (401) and Auth (403)', async () => {
    const resigned = signJwt({ iss: 'supabase-demo', role: 'anon', exp: 1983812996, iat: 1 }, stack.JWT_SECRET);
    const apikeys: Record<string, string> = { 'the anon key with a character appended': `${stack.ANON_KEY}A`, ...bad };
    const seen = Object.fromEntries(await Promise.all(Object.entries(apikeys).map(async ([name, apikey]) => {
      const rest = await api('/rest/v1/rpc/list_vaults', { method: 'POST', apikey, body: {} });
      const auth = await api('/auth/v1/user', { apikey });
      // Auth: 403 bad_jwt, or 401 where the header is no `Bearer <token>` at all (a space in it), as GoTrue.
      return [name, `${rest.status} ${auth.status === 401 || auth.status === 403 ? 'refused' : auth.status}`];
    })));
    expect(seen).toEqual(Object.fromEntries(Object.keys(apikeys).map((name) => [name, '401 refused'])));
    // A validly signed JWT as apikey is a bearer like any other: the user's token acts as the user,
    // a re-signed anon JWT as anon (the CLI's gateway checks no key list; hosted Supabase's does).
    expect((await api('/rest/v1/rpc/list_vaults', { method: 'POST', apikey: user.access_token, body: {} })).status).toBe(200);
    expect((await api('/rest/v1/rpc/list_vaults', { method: 'POST', apikey: resigned, body: {} })).status).toBe(401);
    expect((await api('/rest/v1/', { apikey: stack.ANON_KEY })).status).toBe(200);
    expect((await api('/rest/v1/', { apikey: stack.SERVICE_ROLE_KEY })).status).toBe(200);
    expect((await api(`/rest/v1/?apikey=${stack.ANON_KEY}`, { apikey: null })).status).toBe(200);
  });
});
