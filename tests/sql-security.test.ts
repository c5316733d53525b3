/**
 * Security of the SQL API: an attack matrix against user A's vault through the gateway (another
 * user, the anon key alone, an expired token, a forged token, a forged service key, and A herself
 * writing tables directly), checked against a superuser snapshot of A's data; role-level checks in
 * SQL; and a catalog audit of RLS, search_path, SECURITY DEFINER, grants and policy indexes.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { StackUser } from '../stack/users.ts';
import { adminSql, api, asRole, asUser, expiredTokenFor, forgedServiceKey, forgedTokenFor, newUser, rpc, stack } from './support/stack.ts';
import { join, newMember } from './support/sharing-fixtures.ts';
import { ANON_EXECUTABLE, ourFunctions as auditedFunctions } from './support/catalog-audit.ts';

const b64 = (bytes: number) => randomBytes(bytes).toString('base64');
const entry = () => ({ id: randomUUID(), encrypted_data: b64(64), nonce: b64(12), haex_timestamp: `${Date.now()}`, device_id: 'd1' });

const TABLES = ['vaults', 'vault_keys', 'sync_logs', 'devices', 'vault_members', 'identities', 'identity_private_keys', 'vault_key_grants',
  'vault_invitations', 'vault_invite_links', 'vault_files', 'vault_chain_links'] as const;
const PUBLIC_FUNCTIONS = ['accept_invitation', 'append_chain_link', 'check_vault_quota', 'claim_invite_link', 'compact_logs', 'create_identity',
  'create_invite_link', 'create_vault', 'decline_invitation', 'delete_vault', 'find_identity', 'forget_file', 'get_identity', 'get_vault_key',
  'invite_member', 'leave_vault', 'list_chain_links', 'list_devices', 'list_invitations', 'list_key_grants', 'list_vault_members',
  'list_vault_usage', 'list_vaults', 'prepare_vault_deletion', 'pull_logs', 'pull_page', 'push_log_columns', 'push_logs', 'register_device', 'register_file', 'remove_member',
  'revoke_device', 'rotate_vault_key', 'set_member_role', 'store_own_grants', 'update_vault_key'];
/** Public functions for server code only (issue 26's quotas): executable by service_role alone, SECURITY INVOKER. */
const SERVICE_ROLE_FUNCTIONS = ['set_default_vault_quota', 'set_vault_quota'];
/** The access helpers of shared vaults (read vault_members, whose policy calls them). */
const ACCESS_HELPERS = ['private.can_receive_vault_topic', 'private.member_vault_ids', 'private.require_vault_role', 'private.vault_role'];
const SECURITY_DEFINER = [...ACCESS_HELPERS, 'private.caller_id', 'private.check_request', 'private.forget_compacted_log_ids',
  'private.keep_vault_tombstone', 'private.can_write_vault_object', 'private.vault_file_bytes_and_quota', 'private.vault_object_fits_quota',
  ...PUBLIC_FUNCTIONS.filter((f) => !['get_identity', 'list_chain_links', 'list_key_grants', 'list_vault_usage', 'list_vaults', 'pull_logs'].includes(f))
    .map((f) => `public.${f}`)].sort();
/** Functions allowed without `set search_path = ''`: the inlinable hot path (pull_logs; log_wire, inlined into push_logs' insert). */
const NO_SEARCH_PATH = ['private.log_wire', 'public.pull_logs'];
/** private functions `authenticated` may execute: what the SECURITY INVOKER pull_logs calls, and the Storage policies' name parser. */
const PRIVATE_FOR_AUTHENTICATED = ['private.caller_id', 'private.check_request', 'private.limits', 'private.pull_compacted_through', 'private.pull_vault_state',
  'private.vault_of_object'];
/** Of those, the session check (issue 19): SECURITY DEFINER to read auth.sessions, answering only about the caller's own session. */
const SESSION_CHECK = ['private.caller_id', 'private.check_request'];
/** Access helpers that policies and SECURITY INVOKER functions call: definer, read-only. */
const HELPERS_FOR_AUTHENTICATED = ['private.can_receive_vault_topic', 'private.can_write_vault_object', 'private.member_vault_ids',
  'private.vault_file_bytes_and_quota', 'private.vault_object_fits_quota', 'private.vault_role'];

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

describe('catalog audit', () => {
  const sql = () => adminSql();
  const ourFunctions = () => auditedFunctions(sql());

  it('the public API is exactly the contract\'s functions and tables', async () => {
    const fns = (await ourFunctions()).filter((f) => f.name.startsWith('public.')).map((f) => f.name.slice(7));
    expect(fns).toEqual([...PUBLIC_FUNCTIONS, ...SERVICE_ROLE_FUNCTIONS].sort());
    const serviceOnly = (await ourFunctions()).filter((f) => SERVICE_ROLE_FUNCTIONS.includes(f.name.slice(7)) && f.name.startsWith('public.'));
    expect(serviceOnly.map((f) => [f.name, f.prosecdef, f.auth_exec, f.anon_exec])).toEqual(
      SERVICE_ROLE_FUNCTIONS.map((n) => [`public.${n}`, false, false, false]));
    const tables = await sql()`select relname from pg_class where relnamespace = 'public'::regnamespace and relkind in ('r', 'p', 'v', 'm', 'f') order by 1`;
    expect(tables.map((t) => t.relname)).toEqual([...TABLES].sort());
  });

  it('every table in public and private has RLS enabled', async () => {
    const rows = await sql()`select n.nspname || '.' || c.relname as name, c.relrowsecurity
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname in ('public', 'private') and c.relkind in ('r', 'p')`;
    expect(rows.length).toBeGreaterThanOrEqual(3);
    expect(rows.filter((r) => !r.relrowsecurity).map((r) => r.name)).toEqual([]);
  });

  it('every function sets search_path = \'\' except pull_logs, which is an inlinable SQL invoker function', async () => {
    const fns = await ourFunctions();
    const without = fns.filter((f) => !(f.proconfig ?? []).includes('search_path=""')).map((f) => f.name);
    expect(without).toEqual(NO_SEARCH_PATH);
    for (const name of NO_SEARCH_PATH) {
      const f = fns.find((x) => x.name === name)!;
      expect({ secdef: f.prosecdef, lang: f.lanname, volatile: f.provolatile, config: f.proconfig })
        .toEqual({ secdef: false, lang: 'sql', volatile: 's', config: null });
    }
  });

  it('SECURITY DEFINER only where listed, and every public function has a comment', async () => {
    const fns = await ourFunctions();
    expect(fns.filter((f) => f.prosecdef).map((f) => f.name)).toEqual(SECURITY_DEFINER);
    expect(fns.filter((f) => f.name.startsWith('public.') && !f.comment).map((f) => f.name)).toEqual([]);
  });

  it('no function is executable by anon or PUBLIC but PostgREST\'s pre-request hook; authenticated executes the API and pull_logs\' helpers only', async () => {
    const fns = await ourFunctions();
    expect(fns.filter((f) => f.anon_exec).map((f) => f.name)).toEqual(ANON_EXECUTABLE);
    expect(fns.filter((f) => f.default_acl || f.public_grant).map((f) => f.name)).toEqual([]);
    expect(fns.filter((f) => f.auth_exec).map((f) => f.name))
      .toEqual([...PRIVATE_FOR_AUTHENTICATED, ...HELPERS_FOR_AUTHENTICATED, ...PUBLIC_FUNCTIONS.map((n) => `public.${n}`)].sort());
    for (const name of HELPERS_FOR_AUTHENTICATED) {
      const f = fns.find((x) => x.name === name)!;
      expect({ secdef: f.prosecdef, volatile: f.provolatile === 'v', search_path: f.proconfig })
        .toEqual({ secdef: true, volatile: false, search_path: ['search_path=""'] });
    }
    // the private helpers authenticated may run are neither definer nor writers
    for (const name of PRIVATE_FOR_AUTHENTICATED) {
      const f = fns.find((x) => x.name === name)!;
      expect({ secdef: f.prosecdef, volatile: f.provolatile === 'v' }).toEqual({ secdef: SESSION_CHECK.includes(name), volatile: false });
    }
  });

  it('tables: anon has no privilege, authenticated exactly SELECT', async () => {
    const rows = await sql()`select c.relname, r.rolname,
        array(select p from unnest(array['SELECT','INSERT','UPDATE','DELETE','TRUNCATE','REFERENCES','TRIGGER']) p
              where has_table_privilege(r.oid, c.oid, p)) as privileges
      from pg_class c cross join pg_roles r
      where c.relnamespace = 'public'::regnamespace and c.relkind = 'r' and r.rolname in ('anon', 'authenticated')
      order by 1, 2`;
    // vault_invitations and vault_invite_links: nothing at all (only through the functions).
    const selectable = ['devices', 'identities', 'identity_private_keys', 'sync_logs', 'vault_chain_links', 'vault_files', 'vault_key_grants',
      'vault_keys', 'vault_members', 'vaults'];
    expect(rows.map((r) => [r.relname, r.rolname, r.privileges])).toEqual([...TABLES].sort().flatMap((t) => [
      [t, 'anon', []], [t, 'authenticated', selectable.includes(t) ? ['SELECT'] : []]]));
  });

  it('RLS policies: one per command, to authenticated, reading the caller once per query through private.caller_id or the access helpers', async () => {
    const rows = await sql()`select tablename, policyname, cmd, roles::text[] as roles, qual from pg_policies
      where schemaname in ('public', 'private') order by 1`;
    expect(rows.map((r) => [r.tablename, r.cmd, r.roles])).toEqual([
      ['devices', 'SELECT', ['authenticated']],
      ['identities', 'SELECT', ['authenticated']],
      ['identity_private_keys', 'SELECT', ['authenticated']],
      ['sync_logs', 'SELECT', ['authenticated']],
      ['vault_chain_links', 'SELECT', ['authenticated']],
      ['vault_files', 'SELECT', ['authenticated']],
      ['vault_key_grants', 'SELECT', ['authenticated']],
      ['vault_keys', 'SELECT', ['authenticated']],
      ['vault_members', 'SELECT', ['authenticated']],
      ['vaults', 'SELECT', ['authenticated']],
    ]);
    for (const r of rows) {
      if (r.tablename === 'identities') { expect(r.qual).toBe('true'); continue; } // every signed-in user reads them
      expect(r.qual).toMatch(/\(\s*SELECT (private\.caller_id\(\) AS caller_id|private\.member_vault_ids\(\) AS member_vault_ids)\s*\)/);
      expect(r.policyname).toMatch(/^[A-Z][a-z]+( [a-z]+)+$/); // a sentence
    }
  });

  it('every column a policy reads leads some index (realtime.messages\' own columns exempt: read only on the probe row)', async () => {
    // The vault-topic policies on realtime.messages read its extension and topic, but only on the
    // row Realtime's probe fetches by primary key or is inserting: no scan for an index to serve.
    // What they look up elsewhere (public.vaults by owner_id, id) must be indexed like the rest.
    const rows = await sql()`select distinct n.nspname || '.' || c.relname as relname, a.attname,
        exists (select 1 from pg_index i where i.indrelid = d.refobjid and i.indkey[0] = d.refobjsubid) as indexed
      from pg_depend d
      join pg_policy pol on pol.oid = d.objid
      join pg_class c on c.oid = d.refobjid
      join pg_namespace n on n.oid = c.relnamespace
      join pg_attribute a on a.attrelid = d.refobjid and a.attnum = d.refobjsubid
      where d.classid = 'pg_policy'::regclass and d.refclassid = 'pg_class'::regclass and d.refobjsubid > 0
      order by 1, 2`;
    expect(rows.map((r) => [r.relname, r.attname])).toEqual([
      ['public.devices', 'user_id'], ['public.identity_private_keys', 'user_id'], ['public.sync_logs', 'vault_id'],
      ['public.vault_chain_links', 'vault_id'], ['public.vault_files', 'vault_id'],
      ['public.vault_key_grants', 'recipient_id'], ['public.vault_key_grants', 'vault_id'], ['public.vault_keys', 'user_id'],
      ['public.vault_members', 'vault_id'], ['public.vaults', 'id'], ['realtime.messages', 'extension'], ['realtime.messages', 'topic'],
      // the vault-files policies (issue 26): Storage's own indexes lead with bucket_id and name; metadata
      // (the declared size) is read only in INSERT/UPDATE checks, on the row being written
      ['storage.objects', 'bucket_id'], ['storage.objects', 'metadata'], ['storage.objects', 'name'],
    ]);
    expect(rows.filter((r) => !r.indexed && r.relname !== 'realtime.messages' && `${r.relname}.${r.attname}` !== 'storage.objects.metadata'))
      .toEqual([]);
  });

  it('private schema: nothing for PUBLIC; anon and authenticated may only look up names (USAGE, no CREATE)', async () => {
    const [row] = await sql()`select
      has_schema_privilege('anon', 'private', 'usage') as anon_usage,
      has_schema_privilege('anon', 'private', 'create') as anon_create,
      has_schema_privilege('authenticated', 'private', 'usage') as auth_usage,
      has_schema_privilege('authenticated', 'private', 'create') as auth_create,
      coalesce((select bool_or(a.grantee = 0) from pg_namespace n, aclexplode(n.nspacl) a where n.nspname = 'private'), false) as public_grant,
      (select array_agg(c.relname::text order by c.relname) from pg_class c
        where c.relnamespace = 'private'::regnamespace and c.relkind in ('r', 'v', 'm', 'p', 'f')) as relations,
      (select count(*)::int from pg_class c, pg_roles r where c.relnamespace = 'private'::regnamespace
        and r.rolname in ('anon', 'authenticated') and has_table_privilege(r.oid, c.oid, 'SELECT,INSERT,UPDATE,DELETE')) as granted`;
    expect(row).toEqual({
      // anon: to run PostgREST's pre-request hook, the one function it may execute (catalog audit above).
      anon_usage: true, anon_create: false, auth_usage: true, auth_create: false, public_grant: false,
      relations: ['compacted_log_ids', 'compaction_leases', 'quota_settings', 'removed_members', 'vault_file_state', 'vault_quotas',
        'vault_tombstones'], granted: 0,
    });
  });

  it('the schema exposed by PostgREST does not include private', () => {
    expect(stack.REST_URL).toBeTruthy();
    // PostgREST serves `public` and `graphql_public` (supabase/config.toml); private is not reachable:
    return api('/rest/v1/rpc/limits', { method: 'POST', body: {}, token: alice.access_token, headers: { 'content-profile': 'private' } })
      .then((res) => expect(res.status).toBe(406));
  });
});
