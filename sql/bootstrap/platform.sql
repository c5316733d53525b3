-- Platform bootstrap for a plain PostgreSQL server (the embedded stack of `npm start` and `npm test`).
--
-- It recreates the part of a Supabase database that hosted Supabase and `supabase start` already have
-- before any project migration runs: the API roles, the `extensions` schema and the Realtime
-- publication here; the `auth` schema in auth.sql beside this file (stack/database.ts runs the
-- files of this folder in the order it lists them). Nothing of haex-sync lives here: our own objects are
-- migrations in supabase/migrations, which run unchanged on hosted Supabase.
--
-- Written from Supabase's public definitions (supabase/postgres init scripts, supabase/auth
-- migrations); where they changed over time, this follows the current shape.
--
-- Idempotent: safe to run on every start. Run as a superuser.

-- Roles ------------------------------------------------------------------------------------------

do $bootstrap$
begin
  if not exists (select 1 from pg_roles where rolname = 'supabase_admin') then
    create role supabase_admin login superuser createdb createrole replication bypassrls;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticator') then
    create role authenticator login noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'supabase_auth_admin') then
    create role supabase_auth_admin login noinherit createrole noreplication;
  end if;
end
$bootstrap$;

grant anon, authenticated, service_role, supabase_admin to authenticator;

alter role anon set statement_timeout = '3s';
alter role authenticated set statement_timeout = '8s';
alter role supabase_admin set search_path to public, extensions;
alter role supabase_auth_admin set search_path = auth;

-- Schemas and default privileges of the API roles -------------------------------------------------

grant usage on schema public to postgres, anon, authenticated, service_role;

-- Supabase grants every new object in `public` to the API roles by default; projects revoke what
-- they do not mean to expose. Reproduced so that our migrations are tested against the same
-- defaults they meet on hosted Supabase.
alter default privileges in schema public grant all on tables to postgres, anon, authenticated, service_role;
alter default privileges in schema public grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges in schema public grant all on sequences to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema public
  grant all on tables to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema public
  grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema public
  grant all on sequences to postgres, anon, authenticated, service_role;

create schema if not exists extensions authorization supabase_admin;
grant usage on schema extensions to postgres, anon, authenticated, service_role;
create extension if not exists pgcrypto with schema extensions;
create extension if not exists "uuid-ossp" with schema extensions;

create schema if not exists graphql_public authorization supabase_admin;
grant usage on schema graphql_public to postgres, anon, authenticated, service_role;

-- Realtime: Supabase creates the publication empty; projects add the tables whose changes
-- `postgres_changes` subscribers may receive (supabase/postgres, initial schema).
do $bootstrap$
begin
  if not exists (select 1 from pg_publication where pubname = 'supabase_realtime') then
    create publication supabase_realtime;
  end if;
end
$bootstrap$;
