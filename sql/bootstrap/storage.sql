-- Platform bootstrap, part 4: Supabase Storage's `storage` schema for a plain PostgreSQL server
-- (the embedded stack).
--
-- Hosted Supabase and `supabase start` get this schema from the Storage service itself, which runs
-- its tenant migrations (supabase/storage, migrations/tenant/0001…0063) against the project
-- database. The embedded stack serves Storage's API itself (stack/storage/), so this file
-- reproduces the current result of those migrations for what that API uses: the role
-- supabase_storage_admin, storage.buckets and storage.objects with Supabase's columns, indexes,
-- constraints and triggers (RLS enabled on both, no policies: projects add theirs), the helpers
-- policies call (storage.foldername, filename, extension, operation, allow_only_operation,
-- allow_any_operation), storage.get_size_by_bucket, storage.can_insert_object and the grants.
-- Our migrations (policies on storage.objects) therefore run unchanged on hosted Supabase.
--
-- Not reproduced (the embedded Storage does not serve those APIs): the S3 multipart tables, the
-- analytics/vector/iceberg bucket tables, storage.migrations, and the listing functions
-- (storage.search, search_v2, list_objects_with_delimiter): the embedded service lists with its own
-- queries, run under the caller's role so that the same SELECT policies apply.
--
-- Idempotent: runs on every start, as a superuser, after platform.sql (roles).

do $bootstrap$
begin
  if not exists (select 1 from pg_roles where rolname = 'supabase_storage_admin') then
    create role supabase_storage_admin login noinherit createrole noreplication;
  end if;
end
$bootstrap$;

-- The Storage service connects as supabase_storage_admin and switches to the caller's role per request.
grant anon, authenticated, service_role to supabase_storage_admin;
grant supabase_storage_admin to postgres;
alter role supabase_storage_admin set search_path = storage;

create schema if not exists storage authorization supabase_admin;
grant usage on schema storage to postgres, anon, authenticated, service_role;
grant all on schema storage to supabase_storage_admin;
alter default privileges for role supabase_storage_admin in schema storage
  grant all on tables to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_storage_admin in schema storage
  grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_storage_admin in schema storage
  grant all on sequences to postgres, anon, authenticated, service_role;

do $bootstrap$
begin
  if not exists (select 1 from pg_type t join pg_namespace n on n.oid = t.typnamespace
                 where n.nspname = 'storage' and t.typname = 'buckettype') then
    create type storage.buckettype as enum ('STANDARD', 'ANALYTICS', 'VECTOR');
    alter type storage.buckettype owner to supabase_storage_admin;
  end if;
end
$bootstrap$;

-- storage.buckets as of migrations 0002, 0007, 0008, 0012-0014, 0018, 0038 and 0062.
create table if not exists storage.buckets (
  id text not null primary key,
  name text not null,
  owner uuid,
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  public boolean default false,
  avif_autodetection boolean default false,
  file_size_limit bigint,
  allowed_mime_types text[],
  owner_id text,
  type storage.buckettype not null default 'STANDARD',
  versioning_status text not null default 'DISABLED',
  constraint buckets_versioning_status_check check (versioning_status in ('DISABLED', 'ENABLED', 'SUSPENDED')),
  constraint buckets_versioning_standard_only_check check (type = 'STANDARD' or versioning_status = 'DISABLED'),
  constraint buckets_versioning_dark_check check (versioning_status = 'DISABLED')
);
create unique index if not exists bname on storage.buckets using btree (name);
comment on column storage.buckets.owner is 'Field is deprecated, use owner_id instead';
alter table storage.buckets enable row level security;
alter table storage.buckets owner to supabase_storage_admin;

-- storage.objects as of migrations 0002, 0003, 0016-0019, 0025, 0052 and 0062.
create table if not exists storage.objects (
  id uuid not null default gen_random_uuid() primary key,
  bucket_id text constraint "objects_bucketId_fkey" references storage.buckets (id),
  name text,
  owner uuid,
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  last_accessed_at timestamptz default now(),
  metadata jsonb,
  path_tokens text[] generated always as (string_to_array(name, '/')) stored,
  version text,
  owner_id text,
  user_metadata jsonb,
  archived_at timestamptz,
  is_delete_marker boolean not null default false,
  is_versioned boolean not null default false
);
create unique index if not exists bucketid_objname on storage.objects using btree (bucket_id, name);
create index if not exists name_prefix_search on storage.objects (name text_pattern_ops);
create index if not exists idx_objects_bucket_id_name on storage.objects (bucket_id, (name collate "C"));
create index if not exists idx_objects_bucket_id_name_lower on storage.objects (bucket_id, (lower(name) collate "C"));
comment on column storage.objects.owner is 'Field is deprecated, use owner_id instead';
alter table storage.objects enable row level security;
alter table storage.objects owner to supabase_storage_admin;

-- Migrations 0046 and 0049.
grant all on storage.buckets, storage.objects to anon, authenticated, service_role;
grant all on storage.buckets, storage.objects to postgres with grant option;

-- Path helpers for policies (0060, 0061): `foldername('a/b/c.png')` = {a,b}, `filename` = 'c.png',
-- `extension` = 'png'.
create or replace function storage.foldername(name text) returns text[]
language plpgsql immutable
as $function$
declare
  _parts text[];
begin
  select string_to_array(name, '/') into _parts;
  return _parts[1 : array_length(_parts, 1) - 1];
end
$function$;

create or replace function storage.filename(name text) returns text
language plpgsql immutable
as $function$
declare
  _parts text[];
begin
  select string_to_array(name, '/') into _parts;
  return _parts[array_length(_parts, 1)];
end
$function$;

create or replace function storage.extension(name text) returns text
language plpgsql immutable
as $function$
declare
  _parts text[];
  _filename text;
begin
  select string_to_array(name, '/') into _parts;
  select _parts[array_length(_parts, 1)] into _filename;
  return reverse(split_part(reverse(_filename), '.', 1));
end
$function$;

create or replace function storage.get_size_by_bucket() returns table (size bigint, bucket_id text)
language plpgsql stable
as $function$
begin
  return query
    select sum((metadata->>'size')::bigint)::bigint as size, obj.bucket_id
    from "storage".objects as obj
    group by obj.bucket_id;
end
$function$;

-- The operation the Storage API is running (set per request as `storage.operation`, e.g.
-- 'storage.object.upload'), for policies that tell operations apart (0024, 0058).
create or replace function storage.operation() returns text
language plpgsql stable
as $function$
begin
  return current_setting('storage.operation', true);
end;
$function$;

create or replace function storage.allow_only_operation(expected_operation text) returns boolean
language sql stable
as $function$
  with current_operation as (
    select storage.operation() as raw_operation
  ),
  normalized as (
    select
      case when raw_operation like 'storage.%' then substr(raw_operation, 9) else raw_operation end as current_operation,
      case when expected_operation like 'storage.%' then substr(expected_operation, 9) else expected_operation end as requested_operation
    from current_operation
  )
  select case
    when requested_operation is null or requested_operation = '' then false
    else coalesce(current_operation = requested_operation, false)
  end
  from normalized;
$function$;

create or replace function storage.allow_any_operation(expected_operations text[]) returns boolean
language sql stable
as $function$
  with current_operation as (
    select storage.operation() as raw_operation
  ),
  normalized as (
    select case when raw_operation like 'storage.%' then substr(raw_operation, 9) else raw_operation end as current_operation
    from current_operation
  )
  select exists (
    select 1
    from normalized n
    cross join lateral unnest(expected_operations) as expected_operation
    where expected_operation is not null
      and expected_operation <> ''
      and n.current_operation = case
        when expected_operation like 'storage.%' then substr(expected_operation, 9)
        else expected_operation
      end
  );
$function$;

-- 0015: inserts, then undoes itself with PT200 (an RLS probe).
create or replace function storage.can_insert_object(bucketid text, name text, owner uuid, metadata jsonb) returns void
language plpgsql
as $function$
begin
  insert into "storage"."objects" ("bucket_id", "name", "owner", "metadata") values (bucketid, name, owner, metadata);
  -- hack to rollback the successful insert
  raise sqlstate 'PT200' using message = 'ROLLBACK', detail = 'rollback successful insert';
end
$function$;

-- 0011 (created in the storage schema: the service's search_path).
create or replace function storage.update_updated_at_column() returns trigger
language plpgsql
as $function$
begin
  new.updated_at = now();
  return new;
end;
$function$;

-- 0037.
create or replace function storage.enforce_bucket_name_length() returns trigger
language plpgsql
as $function$
begin
  if length(new.name) > 100 then
    raise exception 'bucket name "%" is too long (% characters). Max is 100.', new.name, length(new.name);
  end if;
  return new;
end;
$function$;

-- 0055: rows leave these tables only through the Storage API, which sets
-- storage.allow_delete_query (and removes the bytes too).
create or replace function storage.protect_delete() returns trigger
language plpgsql
as $function$
begin
  if coalesce(current_setting('storage.allow_delete_query', true), 'false') != 'true' then
    raise exception 'Direct deletion from storage tables is not allowed. Use the Storage API instead.'
      using hint = 'This prevents accidental data loss from orphaned objects.', errcode = '42501';
  end if;
  return null;
end;
$function$;

do $bootstrap$
declare
  fn text;
begin
  foreach fn in array array[
    'foldername(text)', 'filename(text)', 'extension(text)', 'get_size_by_bucket()', 'operation()',
    'allow_only_operation(text)', 'allow_any_operation(text[])', 'can_insert_object(text, text, uuid, jsonb)',
    'update_updated_at_column()', 'enforce_bucket_name_length()', 'protect_delete()'
  ] loop
    execute format('alter function storage.%s owner to supabase_storage_admin', fn);
    execute format('grant all on function storage.%s to postgres, anon, authenticated, service_role', fn);
  end loop;
end
$bootstrap$;

create or replace trigger update_objects_updated_at before update on storage.objects
  for each row execute function storage.update_updated_at_column();

create or replace trigger enforce_bucket_name_length_trigger before insert or update of name on storage.buckets
  for each row execute function storage.enforce_bucket_name_length();

create or replace trigger protect_buckets_delete before delete on storage.buckets
  for each statement execute function storage.protect_delete();

create or replace trigger protect_objects_delete before delete on storage.objects
  for each statement execute function storage.protect_delete();
