/**
 * The catalog audit of the SQL API: the public API is exactly the contract's functions and tables
 * (tests/support/api-lists.ts), RLS everywhere, search_path = '' on every function but the listed
 * inlinable ones, SECURITY DEFINER only where listed, grants deny by default, one policy per command
 * reading the caller through private.caller_id or the access helpers, an index under every column a
 * policy reads, and a private schema PostgREST does not expose.
 */
import { describe, expect, it } from 'vitest';
import { adminSql, api, newUser, stack } from './support/stack.ts';
import { ANON_EXECUTABLE, ourFunctions as auditedFunctions } from './support/catalog-audit.ts';
import { TABLES, PUBLIC_FUNCTIONS, SERVICE_ROLE_FUNCTIONS, SECURITY_DEFINER, NO_SEARCH_PATH, PRIVATE_FOR_AUTHENTICATED, SESSION_CHECK, HELPERS_FOR_AUTHENTICATED } from './support/api-lists.ts';

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

  it('the schema exposed by PostgREST does not include private', async () => {
    expect(stack.REST_URL).toBeTruthy();
    const user = await newUser('audit');
    // PostgREST serves `public` and `graphql_public` (supabase/config.toml); private is not reachable:
    const res = await api('/rest/v1/rpc/limits', { method: 'POST', body: {}, token: user.access_token, headers: { 'content-profile': 'private' } });
    expect(res.status).toBe(406);
  });
});
