/** The catalog audit's view of our functions (tests/sql-security.test.ts), for any database. */
import type postgres from 'postgres';

/** The one function anon may execute: PostgREST runs its db-pre-request hook as every role (20261203100400). */
export const ANON_EXECUTABLE = ['private.check_request'];

/** Functions of our schemas, excluding members of extensions. */
export const ourFunctions = (sql: postgres.Sql) => sql`
    select p.oid, n.nspname || '.' || p.proname as name, p.prosecdef, p.proconfig, l.lanname, p.provolatile,
           p.proacl is null as default_acl,
           coalesce((select bool_or(a.grantee = 0) from aclexplode(p.proacl) a), false) as public_grant,
           has_function_privilege('anon', p.oid, 'execute') as anon_exec,
           has_function_privilege('authenticated', p.oid, 'execute') as auth_exec,
           obj_description(p.oid, 'pg_proc') as comment
    from pg_proc p
    join pg_namespace n on n.oid = p.pronamespace
    join pg_language l on l.oid = p.prolang
    where n.nspname in ('public', 'private')
      and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
    order by 2`;
