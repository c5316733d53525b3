/**
 * Sessions of the embedded Auth service in use: refresh-token rotation and GoTrue's allowed reuses
 * (within `refresh_token_reuse_interval`, and the one-behind token of a lost answer), sign-out
 * scopes, two devices that each sign in and sync through the client library, a sign-in token at
 * PostgREST and at the Edge Function, and a refresh in the middle of a long pull.
 */
import type { SupabaseClient } from '@supabase/supabase-js';
import { describe, expect, it } from 'vitest';
import { edgeFunctionTransport, HaexSyncClient, type DecryptedLog } from '../client/src/index.ts';
import { authClient, authHttp, newEmail, newPassword } from './support/auth.ts';
import { adminSql, api, rpc, stack, verifyToken } from './support/stack.ts';

const refresh = (refresh_token: string) => authHttp('/token?grant_type=refresh_token', { body: { refresh_token } });
const sessionIdOf = (accessToken: string) => verifyToken(accessToken)!.session_id as string;

async function signIn(email: string, password: string): Promise<SupabaseClient> {
  const client = authClient();
  const { error } = await client.auth.signInWithPassword({ email, password });
  expect(error).toBeNull();
  return client;
}

async function newAccount() {
  const email = newEmail('sessions');
  const password = newPassword();
  expect((await authClient().auth.signUp({ email, password })).error).toBeNull();
  return { email, password };
}

describe('refresh tokens', () => {
  it('rotate on each refresh; within the reuse interval an older token gets the current one again', async () => {
    const { email, password } = await newAccount();
    const signedIn = await authHttp('/token?grant_type=password', { body: { email, password } });
    const t0 = signedIn.body.refresh_token as string;
    const t1 = (await refresh(t0)).body.refresh_token as string;
    const second = await refresh(t1);
    const t2 = second.body.refresh_token as string;
    expect(new Set([t0, t1, t2]).size).toBe(3);
    expect(sessionIdOf(second.body.access_token)).toBe(sessionIdOf(signedIn.body.access_token));
    // config.toml's refresh_token_reuse_interval is 10 s: t0 and t1 come back as the current t2.
    const reusedOld = await refresh(t0);
    const reusedPrevious = await refresh(t1);
    expect([reusedOld.status, reusedOld.body.refresh_token]).toEqual([200, t2]);
    expect([reusedPrevious.status, reusedPrevious.body.refresh_token]).toEqual([200, t2]);
    const [row] = await adminSql()`select refresh_token_counter::int as counter from auth.sessions where id = ${sessionIdOf(signedIn.body.access_token)}`;
    expect(row!.counter).toBe(2);
    expect((await refresh(t2)).status).toBe(200);
  });

  it('refuses a token whose signature is not its session\'s (refresh_token_not_found)', async () => {
    const { email, password } = await newAccount();
    const real = (await authHttp('/token?grant_type=password', { body: { email, password } })).body.refresh_token as string;
    const bytes = Buffer.from(real, 'base64url');
    bytes[bytes.length - 6]! ^= 1; // inside the signature
    const { createHash } = await import('node:crypto');
    const body = bytes.subarray(0, bytes.length - 4);
    const forged = Buffer.concat([body, createHash('sha256').update(body).digest().subarray(0, 4)]).toString('base64url');
    const res = await refresh(forged);
    expect(`${res.status} ${res.body.code}`).toBe('400 refresh_token_not_found');
  });

  it('sign-out scopes: others, local and global end exactly those sessions', async () => {
    const { email, password } = await newAccount();
    const [a, b, c] = await Promise.all([signIn(email, password), signIn(email, password), signIn(email, password)]);
    const tokens = async (client: SupabaseClient) => (await client.auth.getSession()).data.session!;
    const [sa, sb, sc] = await Promise.all([tokens(a), tokens(b), tokens(c)]);
    const alive = async (s: { access_token: string }) => (await authHttp('/user', { token: s.access_token })).status === 200;

    expect((await a.auth.signOut({ scope: 'others' })).error).toBeNull();
    expect([await alive(sa), await alive(sb), await alive(sc)]).toEqual([true, false, false]);
    expect((await refresh(sb.refresh_token)).body.code).toBe('refresh_token_not_found');
    const gone = await authHttp('/user', { token: sb.access_token });
    expect(`${gone.status} ${gone.body.code}`).toBe('403 session_not_found');

    const d = await signIn(email, password);
    const sd = await tokens(d);
    expect((await a.auth.signOut({ scope: 'local' })).error).toBeNull();
    expect([await alive(sa), await alive(sd)]).toEqual([false, true]);
    expect((await refresh(sa.refresh_token)).body.code).toBe('refresh_token_not_found');

    const e = await signIn(email, password);
    expect((await d.auth.signOut()).error).toBeNull(); // global is the default
    expect([await alive(sd), await alive(await tokens(e))]).toEqual([false, false]);
  });
});

describe('sign-in tokens at the data API', () => {
  it('a token from signInWithPassword works at PostgREST and at the Edge Function as that user', async () => {
    const { email, password } = await newAccount();
    const client = await signIn(email, password);
    const { access_token: token, user } = (await client.auth.getSession()).data.session!;
    const vaultId = crypto.randomUUID();
    const created = await rpc('create_vault', { vault_id: vaultId, encrypted_vault_key: 'a2V5', salt: 'c2FsdA==', nonce: 'bm9uY2U=' }, token);
    expect(created.status).toBe(200);
    const [vault] = await adminSql()`select owner_id from public.vaults where id = ${vaultId}`;
    expect(vault!.owner_id).toBe(user.id);
    const viaClient = await client.from('vaults').select('id');
    expect(viaClient.data).toEqual([{ id: vaultId }]);
    const viaFunction = await api('/functions/v1/sync/vaults', { token });
    expect(viaFunction.status).toBe(200);
    expect(viaFunction.body.vaults.map((v: { vaultId: string }) => v.vaultId)).toEqual([vaultId]);
    const invoked = await client.functions.invoke('sync/vaults', { method: 'GET' });
    expect(invoked.data.vaults).toHaveLength(1);
  });

  it('two devices each sign in and sync one vault through the client library', async () => {
    const { email, password } = await newAccount();
    const [laptopAuth, phoneAuth] = await Promise.all([signIn(email, password), signIn(email, password)]);
    const laptopSession = (await laptopAuth.auth.getSession()).data.session!;
    const phoneSession = (await phoneAuth.auth.getSession()).data.session!;
    expect(sessionIdOf(laptopSession.access_token)).not.toBe(sessionIdOf(phoneSession.access_token));

    const laptop = HaexSyncClient.create({ supabase: laptopAuth, deviceId: 'laptop' });
    const phone = HaexSyncClient.create({ transport: edgeFunctionTransport(phoneAuth), deviceId: 'phone' });
    const vaultPassword = newPassword();
    const vault = await laptop.createVault(vaultPassword);
    await vault.push([{ data: { note: 'from laptop' }, haexTimestamp: '0001-laptop' }]);

    const same = await phone.unlockVault(vault.vaultId, vaultPassword);
    const seen: unknown[] = [];
    const phoneSync = await same.sync({
      cursor: 0, pending: [{ data: { note: 'from phone' }, haexTimestamp: '0002-phone' }],
      apply: (logs: DecryptedLog[]) => { seen.push(...logs.map((l) => l.data)); },
    });
    expect(seen).toEqual([{ note: 'from laptop' }]);
    const back: unknown[] = [];
    await vault.sync({ cursor: 1, pending: [], apply: (logs: DecryptedLog[]) => { back.push(...logs.map((l) => l.data)); } });
    expect(back).toEqual([{ note: 'from phone' }]);
    expect(phoneSync.cursor).toBe(2);
  });

  it('a refresh in the middle of a long pull: the pull goes on with the new token and misses nothing', async () => {
    const { email, password } = await newAccount();
    const writer = HaexSyncClient.create({ supabase: await signIn(email, password), deviceId: 'writer' });
    const vaultPassword = newPassword();
    const vault = await writer.createVault(vaultPassword);
    const total = 1500;
    await vault.push(Array.from({ length: total }, (_, i) => ({ data: { i }, haexTimestamp: String(i).padStart(6, '0') })));

    const reader = await signIn(email, password);
    const tokensSent: string[] = [];
    const recordingFetch: typeof fetch = (input, init) => {
      tokensSent.push(new Headers(init?.headers).get('authorization')!.slice('Bearer '.length));
      return fetch(input, init);
    };
    const client = HaexSyncClient.create({
      transport: edgeFunctionTransport({
        url: `${stack.API_URL}/functions/v1/sync`, apikey: stack.CLIENT_KEY, fetch: recordingFetch,
        accessToken: async () => (await reader.auth.getSession()).data.session!.access_token,
      }),
      pageSize: 50,
    });
    const before = (await reader.auth.getSession()).data.session!.access_token;
    const opened = await client.unlockVault(vault.vaultId, vaultPassword);
    const received: number[] = [];
    let pages = 0;
    let refreshedTo: string | undefined;
    for await (const page of opened.pull(0)) {
      received.push(...page.logs.map((l) => (l.data as { i: number }).i));
      if (++pages === 5) {
        // Tokens are signed with second precision: a refresh within the sign-in's second would
        // mint the very same JWT.
        await new Promise((resolve) => setTimeout(resolve, 1100));
        const { data, error } = await reader.auth.refreshSession();
        expect(error).toBeNull();
        refreshedTo = data.session!.access_token;
      }
    }
    expect(received).toEqual(Array.from({ length: total }, (_, i) => i));
    expect(refreshedTo).toBeDefined();
    expect(refreshedTo).not.toBe(before);
    // Requests before the refresh (the key, five pages and the one prefetched) went with the old
    // token, every later page with the new one.
    const old = tokensSent.filter((t) => t === before).length;
    expect(old).toBeGreaterThanOrEqual(6);
    expect(old).toBeLessThanOrEqual(8);
    expect(tokensSent.filter((t) => t === refreshedTo).length).toBe(tokensSent.length - old);
  });
});
