/**
 * Security of the SQL API: an attack matrix against user A's vault through the gateway (another
 * user, the anon key alone, an expired token, a forged token, a forged service key, and A herself
 * writing tables directly), checked against a superuser snapshot of A's data; and role-level checks
 * in SQL. The catalog audit (RLS, search_path, SECURITY DEFINER, grants, policy indexes) is in
 * tests/sql-catalog-audit.test.ts; the lists both read are in tests/support/api-lists.ts.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { StackUser } from '../stack/users.ts';
import { adminSql, api, asRole, asUser, expiredTokenFor, forgedServiceKey, forgedTokenFor, newUser, rpc, stack } from './support/stack.ts';
import { join, newMember } from './support/sharing-fixtures.ts';
import { TABLES, PUBLIC_FUNCTIONS } from './support/api-lists.ts';

const b64 = (bytes: number) => randomBytes(bytes).toString('base64');
const entry = () => ({ id: randomUUID(), encrypted_data: b64(64), nonce: b64(12), haex_timestamp: `${Date.now()}`, device_id: 'd1' });

let alice: StackUser;
let bob: StackUser;
/** Was a writer of A's vault (shared), then removed: a still-valid token of a former member. */
let carol: StackUser;
let vaultId: string;
let aliceKey: { updated_at: string };

/** Everything of A's vault, as the superuser sees it. */
async function snapshot() {
  const sql = adminSql();
  const [state] = await sql`select
    (select to_jsonb(v) from public.vaults v where v.id = ${vaultId}) as vault,
    (select jsonb_agg(k order by k.user_id) from public.vault_keys k where k.vault_id = ${vaultId}) as keys,
    (select md5(string_agg(l::text, ',' order by l.sequence)) from public.sync_logs l where l.vault_id = ${vaultId}) as logs,
    (select count(*)::int from public.sync_logs l where l.vault_id = ${vaultId}) as log_count,
    (select count(*)::int from public.vaults where owner_id in (${alice.id}, ${bob.id})) as their_vaults`;
  return state!;
}

/** `direct`: straight to PostgREST's own port, as if the gateway were bypassed (defence in depth). */
interface Attacker { name: string; token?: string; apikey?: string | null; direct?: boolean }

async function direct(path: string, init: { method?: string; body?: unknown; token?: string }) {
  const headers: Record<string, string> = { prefer: 'return=representation' };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${stack.POSTGREST_URL}${path.replace(/^\/rest\/v1/, '')}`, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers, body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

beforeAll(async () => {
  [alice, bob] = await Promise.all([newUser('alice'), newUser('bob')]);
  vaultId = randomUUID();
  const created = await rpc('create_vault', { vault_id: vaultId, encrypted_vault_key: b64(48), salt: b64(16), nonce: b64(12) }, alice.access_token);
  expect(created.status).toBe(200);
  aliceKey = created.body[0];
  const pushed = await rpc('push_logs', { vault_id: vaultId, logs: [entry(), entry(), entry()] }, alice.access_token);
  expect(pushed.status).toBe(200);
  // A's vault is shared: carol joins as a writer and is removed again (the matrix runs against a shared vault)
  carol = await newMember('carol');
  expect((await rpc('create_identity', { encryption_public_key: b64(32), signing_public_key: b64(32), signature: b64(64),
    encrypted_private_keys: b64(100), salt: b64(16), nonce: b64(12) }, alice.access_token)).status).toBe(204);
  await join(alice, vaultId, carol, 'writer');
  expect((await rpc('remove_member', { vault_id: vaultId, user_id: carol.id }, alice.access_token)).status).toBe(204);
});

/** Every request an attacker might try against A's vault, by table and by function. */
function attempts(a: Attacker) {
  const call = (path: string, init: { method?: string; body?: unknown } = {}) => a.direct
    ? direct(path, { ...init, token: a.token })
    : api(path, { ...init, token: a.token, apikey: a.apikey, headers: { prefer: 'return=representation' } });
  const logRow = () => ({
    vault_id: vaultId, sequence: 4, id: randomUUID(), author_id: alice.id, encrypted_data: 'AAAA', nonce: 'n', haex_timestamp: 't',
  });
  return {
    'select vaults': () => call(`/rest/v1/vaults?id=eq.${vaultId}`),
    'select vault_keys': () => call(`/rest/v1/vault_keys?vault_id=eq.${vaultId}`),
    'select sync_logs': () => call(`/rest/v1/sync_logs?vault_id=eq.${vaultId}`),
    'select all sync_logs': () => call('/rest/v1/sync_logs'),
    'insert vaults': () => call('/rest/v1/vaults', { method: 'POST', body: { id: randomUUID(), owner_id: alice.id } }),
    'insert vault_keys': () => call('/rest/v1/vault_keys', { method: 'POST', body: { vault_id: vaultId, user_id: bob.id, encrypted_vault_key: 'AAAA', salt: 'AAAA', nonce: 'AAAA' } }),
    'insert sync_logs': () => call('/rest/v1/sync_logs', { method: 'POST', body: logRow() }),
    'update vaults': () => call(`/rest/v1/vaults?id=eq.${vaultId}`, { method: 'PATCH', body: { last_sequence: 0, owner_id: bob.id } }),
    'update vault_keys': () => call(`/rest/v1/vault_keys?vault_id=eq.${vaultId}`, { method: 'PATCH', body: { encrypted_vault_key: 'BBBB' } }),
    'update sync_logs': () => call(`/rest/v1/sync_logs?vault_id=eq.${vaultId}`, { method: 'PATCH', body: { sequence: 99 } }),
    'delete vaults': () => call(`/rest/v1/vaults?id=eq.${vaultId}`, { method: 'DELETE' }),
    'delete vault_keys': () => call(`/rest/v1/vault_keys?vault_id=eq.${vaultId}`, { method: 'DELETE' }),
    'delete sync_logs': () => call(`/rest/v1/sync_logs?vault_id=eq.${vaultId}`, { method: 'DELETE' }),
    'rpc push_logs': () => call('/rest/v1/rpc/push_logs', { body: { vault_id: vaultId, logs: [entry()] } }),
    'rpc push_log_columns': () => call('/rest/v1/rpc/push_log_columns', { body: { vault_id: vaultId, ids: [randomUUID()],
      encrypted_data: [b64(64)], nonces: [b64(12)], haex_timestamps: [`${Date.now()}`] } }),
    'rpc pull_logs': () => call('/rest/v1/rpc/pull_logs', { body: { vault_id: vaultId, after_sequence: 0, max_count: 1000 } }),
    'rpc pull_page': () => call('/rest/v1/rpc/pull_page', { body: { vault_id: vaultId, after_sequence: 0, max_count: 1000 } }),
    'rpc get_vault_key': () => call('/rest/v1/rpc/get_vault_key', { body: { vault_id: vaultId } }),
    'rpc update_vault_key': () => call('/rest/v1/rpc/update_vault_key', { body: { vault_id: vaultId, encrypted_vault_key: 'BBBB', salt: 'BBBB', nonce: 'BBBB', if_updated_at: aliceKey.updated_at } }),
    'rpc delete_vault': () => call('/rest/v1/rpc/delete_vault', { body: { vault_id: vaultId } }),
    'rpc create_vault': () => call('/rest/v1/rpc/create_vault', { body: { vault_id: vaultId, encrypted_vault_key: 'BBBB', salt: 'BBBB', nonce: 'BBBB' } }),
    'rpc list_vaults': () => call('/rest/v1/rpc/list_vaults', { body: {} }),
  };
}
type Attempt = keyof ReturnType<typeof attempts>;

/** `status code`, or `status []` for an empty JSON array. */
const outcome = (res: { status: number; body: any }) =>
  Array.isArray(res.body) ? `${res.status} ${res.body.length === 0 ? '[]' : `${res.body.length} rows`}`
    : `${res.status} ${res.body?.code ?? res.body?.error?.code ?? ''}`.trim();

const ATTEMPTS = ['select vaults', 'select vault_keys', 'select sync_logs', 'select all sync_logs', 'insert vaults',
  'insert vault_keys', 'insert sync_logs', 'update vaults', 'update vault_keys', 'update sync_logs', 'delete vaults',
  'delete vault_keys', 'delete sync_logs', 'rpc push_logs', 'rpc push_log_columns', 'rpc pull_logs', 'rpc pull_page', 'rpc get_vault_key', 'rpc update_vault_key',
  'rpc delete_vault', 'rpc create_vault', 'rpc list_vaults'] as const satisfies readonly Attempt[];
const everyAttempt = (value: string) => Object.fromEntries(ATTEMPTS.map((k) => [k, value])) as Record<Attempt, string>;

describe('attack matrix against user A\'s vault (nothing read, nothing changed)', () => {
  const cases: [string, () => Attacker, Record<Attempt, string>][] = [
    ['a second user', () => ({ name: 'bob', token: bob.access_token }), {
      'select vaults': '200 []', 'select vault_keys': '200 []', 'select sync_logs': '200 []', 'select all sync_logs': '200 []',
      'insert vaults': '403 42501', 'insert vault_keys': '403 42501', 'insert sync_logs': '403 42501',
      'update vaults': '403 42501', 'update vault_keys': '403 42501', 'update sync_logs': '403 42501',
      'delete vaults': '403 42501', 'delete vault_keys': '403 42501', 'delete sync_logs': '403 42501',
      'rpc push_logs': '404 PT404', 'rpc push_log_columns': '404 PT404', 'rpc pull_logs': '404 PT404', 'rpc pull_page': '404 PT404', 'rpc get_vault_key': '404 PT404',
      'rpc update_vault_key': '404 PT404', 'rpc delete_vault': '404 PT404',
      'rpc create_vault': '409 PT409', // the contract: an existing id is a conflict, whoever owns it
      'rpc list_vaults': '200 []',
    }],
    ['a removed member of A\'s shared vault, with a still-valid token', () => ({ name: 'carol', token: carol.access_token }), {
      'select vaults': '200 []', 'select vault_keys': '200 []', 'select sync_logs': '200 []', 'select all sync_logs': '200 []',
      'insert vaults': '403 42501', 'insert vault_keys': '403 42501', 'insert sync_logs': '403 42501',
      'update vaults': '403 42501', 'update vault_keys': '403 42501', 'update sync_logs': '403 42501',
      'delete vaults': '403 42501', 'delete vault_keys': '403 42501', 'delete sync_logs': '403 42501',
      'rpc push_logs': '404 PT404', 'rpc push_log_columns': '404 PT404', 'rpc pull_logs': '404 PT404', 'rpc pull_page': '404 PT404', 'rpc get_vault_key': '404 PT404',
      'rpc update_vault_key': '404 PT404', 'rpc delete_vault': '404 PT404', 'rpc create_vault': '409 PT409', 'rpc list_vaults': '200 []',
    }],
    ['the anon key alone', () => ({ name: 'anon' }), everyAttempt('401 42501')],
    ['the publishable key alone', () => ({ name: 'publishable', apikey: stack.PUBLISHABLE_KEY }), everyAttempt('401 42501')],
    ['no apikey and no token (the CLI\'s gateway demands none: anon)', () => ({ name: 'nothing', apikey: null }), everyAttempt('401 42501')],
    // The gateway passes bearer tokens on, as the CLI's Kong does; PostgREST refuses bad ones (PGRST301).
    ['an expired token of A', () => ({ name: 'expired', token: expiredTokenFor(alice) }), everyAttempt('401 PGRST301')],
    ['a forged token of A', () => ({ name: 'forged', token: forgedTokenFor(alice) }), everyAttempt('401 PGRST301')],
    ['a forged service key as bearer', () => ({ name: 'forged service bearer', token: forgedServiceKey() }), everyAttempt('401 PGRST301')],
    ['no token, straight to PostgREST', () => ({ name: 'anon direct', direct: true }), everyAttempt('401 42501')],
    ['an expired token of A, straight to PostgREST', () => ({ name: 'expired direct', token: expiredTokenFor(alice), direct: true }), everyAttempt('401 PGRST301')],
    ['a forged token of A, straight to PostgREST', () => ({ name: 'forged direct', token: forgedTokenFor(alice), direct: true }), everyAttempt('401 PGRST301')],
    ['a forged service key, straight to PostgREST', () => ({ name: 'forged service direct', token: forgedServiceKey(), direct: true }), everyAttempt('401 PGRST301')],
    // A key that is none of the project's is refused by the gateway itself (hosted's 401 Invalid API key, no code).
    ['a forged service key as apikey', () => ({ name: 'forged service apikey', apikey: forgedServiceKey(), token: forgedServiceKey() }),
      everyAttempt('401')],
    ['a forged service key as apikey alone', () => ({ name: 'forged service apikey alone', apikey: forgedServiceKey() }),
      everyAttempt('401')],
  ];

  it.each(cases)('%s', async (_name, attacker, expected) => {
    const before = await snapshot();
    const tries = attempts(attacker());
    const seen: Record<string, string> = {};
    for (const [name, attempt] of Object.entries(tries)) seen[name] = outcome(await attempt());
    expect(seen).toEqual(expected);
    expect(await snapshot()).toEqual(before);
  });

  it('A herself cannot write the tables directly (no sequence, counter or authorship forgery)', async () => {
    const before = await snapshot();
    const tries = attempts({ name: 'alice', token: alice.access_token });
    const writes = (Object.keys(tries) as Attempt[]).filter((k) => /^(insert|update|delete) /.test(k));
    const seen = Object.fromEntries(await Promise.all(writes.map(async (k) => [k, outcome(await tries[k]())])));
    expect(seen).toEqual(Object.fromEntries(writes.map((k) => [k, '403 42501'])));
    expect(await snapshot()).toEqual(before);
    // ...while reading her own rows works
    expect(outcome(await tries['select sync_logs']())).toBe('200 3 rows');
  });

  it('anon\'s OpenAPI document exposes none of our tables or functions', async () => {
    const res = await api('/rest/v1/');
    expect(res.status).toBe(200);
    const paths = Object.keys(res.body.paths ?? {});
    for (const name of [...TABLES, ...PUBLIC_FUNCTIONS]) expect(paths.some((p) => p.includes(name))).toBe(false);
  });
});

describe('in SQL, by role', () => {
  it('a second user sees no rows of A and may not write', async () => {
    const result = await asUser(bob, async (sql) => {
      const rows = await sql`select
        (select count(*)::int from public.vaults where id = ${vaultId}) as vaults,
        (select count(*)::int from public.vault_keys where vault_id = ${vaultId}) as keys,
        (select count(*)::int from public.sync_logs where vault_id = ${vaultId}) as logs`;
      const codes: string[] = [];
      for (const statement of [
        `update public.vaults set last_sequence = 0 where id = '${vaultId}'`,
        `delete from public.sync_logs where vault_id = '${vaultId}'`,
        `insert into public.sync_logs (vault_id, sequence, id, author_id, encrypted_data, nonce, haex_timestamp)
           values ('${vaultId}', 4, gen_random_uuid(), '${bob.id}', 'AAAA', 'n', 't')`,
        `select * from public.pull_logs('${vaultId}', 0, 1000)`,
        `select public.pull_page('${vaultId}', 0, 1000)`,
        `select private.create_vault('${randomUUID()}', 'AAAA', 'AAAA', 'AAAA')`,
        `select private.require_uid()`,
        `select private.is_base64('AAAA')`,
        `create table private.evil (x int)`,
        `create function public.evil() returns int language sql as 'select 1'`,
      ]) {
        await sql`savepoint s`;
        try {
          await sql.unsafe(statement);
          codes.push('ok');
        } catch (error: any) {
          codes.push(error.code);
        }
        await sql`rollback to savepoint s`;
      }
      return { counts: rows[0], codes };
    });
    expect(result.counts).toEqual({ vaults: 0, keys: 0, logs: 0 });
    expect(result.codes).toEqual([...Array(3).fill('42501'), 'PT404', 'PT404', ...Array(5).fill('42501')]);
  });

  it('anon can neither read a table nor execute a function', async () => {
    const codes = await asRole('anon', {}, async (sql) => {
      const out: string[] = [];
      for (const statement of [
        'select 1 from public.vaults', 'select 1 from public.vault_keys', 'select 1 from public.sync_logs',
        `select public.push_logs('${vaultId}', '[]')`, `select public.push_log_columns('${vaultId}', '{}', '{}', '{}', '{}')`,
        `select * from public.pull_logs('${vaultId}')`,
        `select public.pull_page('${vaultId}')`, 'select * from public.list_vaults()', `select private.limits()`,
      ]) {
        await sql`savepoint s`;
        try {
          await sql.unsafe(statement);
          out.push('ok');
        } catch (error: any) {
          out.push(error.code);
        }
        await sql`rollback to savepoint s`;
      }
      return out;
    });
    expect(codes).toEqual(Array(9).fill('42501'));
  });
});
