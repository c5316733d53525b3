/**
 * Attacks with tokens of the embedded Auth service, and what it must never store. Extends the
 * attack matrix of tests/sql-security.test.ts with the access token of a signed-out session: Auth
 * refuses it at once, and so, since issue 19, does the database (private.caller_id() checks
 * auth.sessions), through PostgREST and the Edge Function, although both still verify the JWT by
 * signature and expiry alone (docs/devices.md). Ends with a scan of every table and log file for
 * passwords and refresh tokens in clear.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { authClient, authHttp, newEmail, newPassword } from './support/auth.ts';
import { adminSql, api, expiredTokenFor, forgedServiceKey, forgedTokenFor, rpc, stack } from './support/stack.ts';

const b64 = (bytes: number) => randomBytes(bytes).toString('base64');
const entry = () => ({ id: randomUUID(), encrypted_data: b64(64), nonce: b64(12), haex_timestamp: `${Date.now()}`, device_id: 'd1' });

/** Every password and refresh token this file creates: none may be found in clear anywhere. */
const secrets: string[] = [];

async function signUp(label: string) {
  const email = newEmail(label);
  const password = newPassword();
  const client = authClient();
  const { data, error } = await client.auth.signUp({ email, password });
  expect(error).toBeNull();
  secrets.push(password, data.session!.refresh_token);
  return { client, email, password, id: data.user!.id, session: data.session! };
}

let alice: Awaited<ReturnType<typeof signUp>>;
let vaultId: string;

async function snapshot() {
  const [state] = await adminSql()`select
    (select to_jsonb(v) from public.vaults v where v.id = ${vaultId}) as vault,
    (select jsonb_agg(k order by k.user_id) from public.vault_keys k where k.vault_id = ${vaultId}) as keys,
    (select md5(string_agg(l::text, ',' order by l.sequence)) from public.sync_logs l where l.vault_id = ${vaultId}) as logs`;
  return state!;
}

beforeAll(async () => {
  alice = await signUp('alice');
  vaultId = randomUUID();
  const token = alice.session.access_token;
  expect((await rpc('create_vault', { vault_id: vaultId, encrypted_vault_key: b64(48), salt: b64(16), nonce: b64(12) }, token)).status).toBe(200);
  expect((await rpc('push_logs', { vault_id: vaultId, logs: [entry(), entry()] }, token)).status).toBe(200);
});

async function signedOutToken(label: string) {
  const user = await signUp(label);
  expect((await user.client.auth.signOut()).error).toBeNull();
  return user;
}

describe('the access token of a signed-out session', () => {
  it('of another user reaches nothing of A\'s vault, through the gateway or straight to PostgREST', async () => {
    const bob = await signedOutToken('bob');
    const token = bob.session.access_token;
    const direct = async (p: string, body?: unknown) => {
      const res = await fetch(`${stack.POSTGREST_URL}${p}`, {
        method: body === undefined ? 'GET' : 'POST', body: body === undefined ? undefined : JSON.stringify(body),
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    };
    const outcome = (res: { status: number; body: any }) => Array.isArray(res.body) ? `${res.status} ${res.body.length} rows`
      : Array.isArray(res.body?.logs) ? `${res.status} ${res.body.logs.length} logs`
        : `${res.status} ${res.body?.code ?? res.body?.error?.code ?? ''}`.trim();
    const before = await snapshot();
    const seen = {
      'select vaults': outcome(await api(`/rest/v1/vaults?id=eq.${vaultId}`, { token })),
      'select sync_logs': outcome(await api(`/rest/v1/sync_logs?vault_id=eq.${vaultId}`, { token })),
      'rpc pull_logs': outcome(await rpc('pull_logs', { vault_id: vaultId, after_sequence: 0, max_count: 1000 }, token)),
      'rpc pull_page': outcome(await rpc('pull_page', { vault_id: vaultId, after_sequence: 0, max_count: 1000 }, token)),
      'rpc get_vault_key': outcome(await rpc('get_vault_key', { vault_id: vaultId }, token)),
      'rpc push_logs': outcome(await rpc('push_logs', { vault_id: vaultId, logs: [entry()] }, token)),
      'rpc delete_vault': outcome(await rpc('delete_vault', { vault_id: vaultId }, token)),
      'update vaults': outcome(await api(`/rest/v1/vaults?id=eq.${vaultId}`, { method: 'PATCH', token, body: { owner_id: bob.id } })),
      'function pull': outcome(await api('/functions/v1/sync/pull', { token, body: { vaultId, afterSequence: 0 } })),
      'function vault-key': outcome(await api(`/functions/v1/sync/vault-key/${vaultId}`, { token })),
      'direct select sync_logs': outcome(await direct(`/sync_logs?vault_id=eq.${vaultId}`)),
      'direct rpc get_vault_key': outcome(await direct('/rpc/get_vault_key', { vault_id: vaultId })),
    };
    // Its session is gone: every request is refused before it reads anything (issue 19).
    expect(seen).toEqual({
      'select vaults': '401 PT401', 'select sync_logs': '401 PT401', 'rpc pull_logs': '401 PT401', 'rpc pull_page': '401 PT401',
      'rpc get_vault_key': '401 PT401', 'rpc push_logs': '401 PT401', 'rpc delete_vault': '401 PT401',
      'update vaults': '401 PT401', 'function pull': '401 session_revoked', 'function vault-key': '401 session_revoked',
      'direct select sync_logs': '401 PT401', 'direct rpc get_vault_key': '401 PT401',
    });
    expect(await snapshot()).toEqual(before);
  });

  it('of the owner is refused by Auth at once, and by the database through PostgREST and the Edge Function (issue 19)', async () => {
    const carol = await signUp('carol');
    const token = carol.session.access_token;
    const ownVault = randomUUID();
    expect((await rpc('create_vault', { vault_id: ownVault, encrypted_vault_key: b64(48), salt: b64(16), nonce: b64(12) }, token)).status).toBe(200);
    expect((await carol.client.auth.signOut()).error).toBeNull();

    const me = await authHttp('/user', { token });
    expect(`${me.status} ${me.body.code}`).toBe('403 session_not_found');
    const renewed = await authHttp('/token?grant_type=refresh_token', { body: { refresh_token: carol.session.refresh_token } });
    expect(`${renewed.status} ${renewed.body.code}`).toBe('400 refresh_token_not_found');
    // The JWT still verifies by signature and expiry, but its session is gone: the database refuses it.
    const listed = await rpc('list_vaults', {}, token);
    expect(`${listed.status} ${listed.body.code} ${listed.body.hint}`).toBe('401 PT401 session_revoked');
    const viaFunction = await api('/functions/v1/sync/vaults', { token });
    expect(`${viaFunction.status} ${viaFunction.body.error.code}`).toBe('401 session_revoked');
    const [kept] = await adminSql()`select count(*)::int as n from public.vaults where id = ${ownVault}`;
    expect(kept!.n).toBe(1); // refused, not deleted: signing in again finds the vault
  });
});

describe('tokens the Auth endpoints refuse', () => {
  it('forged and expired user tokens, a forged service key, and user tokens at the admin API', async () => {
    const dave = await signUp('dave');
    const user = { id: dave.id, email: dave.email };
    const status = async (p: string, init: Parameters<typeof authHttp>[1]) => {
      const res = await authHttp(p, init);
      return `${res.status} ${res.body?.code ?? res.body?.error?.code}`;
    };
    // Auth itself judges the bearer (the gateway checks only the apikey there, as Kong): GoTrue's 403 bad_jwt.
    expect(await status('/user', { token: forgedTokenFor(user) })).toBe('403 bad_jwt');
    expect(await status('/user', { token: expiredTokenFor(user) })).toBe('403 bad_jwt');
    // A token with GoTrue's claims but no session behind it (as minted outside Auth).
    const sessionless = (await import('../stack/users.ts')).accessTokenFor(user, {
      jwtSecret: stack.JWT_SECRET, signingKeys: stack.SIGNING_KEYS, apiUrl: stack.API_URL, expiresInSeconds: 600,
    });
    expect(await status('/user', { token: sessionless })).toBe('403 session_not_found');
    expect(await status('/admin/users', { token: forgedServiceKey() })).toBe('403 bad_jwt');
    // As apikey, a forged key never reaches Auth: the gateway refuses it (hosted Supabase's 401).
    expect((await authHttp('/admin/users', { token: forgedServiceKey(), apikey: forgedServiceKey() })).status).toBe(401);
    expect(await status('/admin/users', { token: dave.session.access_token })).toBe('403 not_admin');
    expect(await status(`/admin/users/${alice.id}`, { method: 'DELETE', token: dave.session.access_token, body: {} })).toBe('403 not_admin');
    expect(await status('/logout', { method: 'POST', token: forgedTokenFor({ id: alice.id, email: alice.email }) })).toBe('403 bad_jwt');
    expect((await authHttp('/user', { token: alice.session.access_token })).status).toBe(200);
  });
});

describe('no password, refresh token or refresh-token key in clear', () => {
  it('in any column of any table (the per-session HMAC keys only in auth.sessions), or in the stack\'s log files', async () => {
    // Exercise every path that handles a password or a refresh token.
    const erin = await signUp('erin');
    const signIn = await authClient().auth.signInWithPassword({ email: erin.email, password: erin.password });
    const refreshed = await erin.client.auth.refreshSession();
    const changed = newPassword();
    expect((await erin.client.auth.updateUser({ password: changed })).error).toBeNull();
    const adminPassword = newPassword();
    const created = await authHttp('/admin/users', {
      token: stack.SERVICE_ROLE_KEY, apikey: stack.SERVICE_ROLE_KEY, body: { email: newEmail('scan'), password: adminPassword, email_confirm: true },
    });
    expect(created.status).toBe(200);
    await authClient().auth.signInWithPassword({ email: erin.email, password: 'a-wrong-password-for-the-log' });
    secrets.push(signIn.data.session!.refresh_token, refreshed.data.session!.refresh_token, changed, adminPassword,
      'a-wrong-password-for-the-log');

    // The scan's own statements carry every secret as a bind parameter: its connection never logs
    // parameter values, so that the scan cannot itself write what it looks for into the log files
    // read below (another test may turn on log_statement for the whole cluster: sql-explain.test.ts).
    // '0' as a string: postgres.js leaves out a startup parameter whose value is falsy.
    const sql = postgres(stack.DB_URL, {
      max: 1, onnotice: () => {}, connection: { log_parameter_max_length: '0', log_parameter_max_length_on_error: '0' },
    });
    onTestFinished(() => sql.end({ timeout: 5 }));
    // Refresh tokens are never stored (GoTrue's signed format): what would let anyone mint them is
    // each session's HMAC key, which lives in auth.sessions.refresh_token_hmac_key as GoTrue keeps it,
    // and nowhere else: no other column, table or log line.
    const ours = [alice.email, erin.email];
    const keys = (await sql<{ key: string }[]>`select s.refresh_token_hmac_key as key from auth.sessions s
      join auth.users u on u.id = s.user_id where u.email = any(${ours}::text[])`).map((r) => r.key);
    expect(keys.length).toBeGreaterThanOrEqual(2); // erin's sign-up and sign-in (and alice's, unless signed out)
    const [stored] = await sql`select count(*)::int as n from auth.sessions t
      where exists (select 1 from unnest(${keys}::text[]) k where strpos(t::text, k) > 0)`;
    expect(stored!.n).toBe(keys.length); // the scan finds each key where it belongs...
    const [elsewhere] = await sql`select count(*)::int as n from auth.sessions t
      where exists (select 1 from unnest(${keys}::text[]) k
                    where strpos((to_jsonb(t) - 'refresh_token_hmac_key')::text, k) > 0)`;
    expect(elsewhere!.n).toBe(0); // ...and in no other column of the row
    const tables = await sql<{ name: string }[]>`
      select format('%I.%I', n.nspname, c.relname) as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p', 'm') and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_toast%'`;
    expect(tables.map((t) => t.name)).toEqual(expect.arrayContaining(['auth.users', 'auth.sessions', 'auth.identities', 'public.sync_logs']));
    const found: string[] = [];
    for (const { name } of tables) {
      const searched = name === 'auth.sessions' ? secrets : [...secrets, ...keys];
      const [hit] = await sql.unsafe(
        `select count(*)::int as n from ${name} t where exists (select 1 from unnest($1::text[]) s where strpos(t::text, s) > 0)`,
        [searched]);
      if (hit!.n > 0) found.push(name);
    }
    expect(found).toEqual([]);
    // The scan does see what is stored in clear: the emails.
    const [emails] = await sql`select count(*)::int as n from auth.users t where strpos(t::text, ${erin.email}) > 0`;
    expect(emails!.n).toBe(1);

    const logs = path.join(stack.DATA_DIR, 'logs');
    const files = readdirSync(logs);
    expect(files).toContain('auth.log');
    // Each leaking line itself (cut), so that a failure shows which service logged what.
    const leaks = files.flatMap((file) => readFileSync(path.join(logs, file), 'utf8').split('\n')
      .filter((line) => [...secrets, ...keys].some((secret) => line.includes(secret)))
      .map((line) => `${file}: ${line.slice(0, 300)}`));
    expect(leaks).toEqual([]);
    expect(readFileSync(path.join(logs, 'auth.log'), 'utf8')).toContain('POST /auth/v1/token 200');
  });
});
