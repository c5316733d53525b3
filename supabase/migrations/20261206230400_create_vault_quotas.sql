-- Per-vault byte quotas over logs and files (issue 26, docs/files.md#quotas).
--
-- A vault's used bytes = vaults.bytes (its live logs, as push_logs and compact_logs keep them) +
-- vault_file_state.file_bytes (its registered files' objects). Its quota = its own
-- (set_vault_quota, service role) or else the default (set_default_vault_quota, service role; the
-- embedded stack sets it from config.toml `[haex] vault_quota_bytes` at every start); null = none.
--
-- Enforcement, before anything is stored:
--   pushes    a trigger on vaults (push_logs raises vaults.bytes in the push's transaction): past
--             the quota, PT413 hint quota_exceeded aborts the push. push_logs itself is unchanged.
--   uploads   check_vault_quota(vault_id, bytes), which the client calls before storing a file's
--             objects (with the file's size, or chunk by chunk for a stream), counting every object
--             the vault has in Storage (complete or not).
-- Compaction (vaults.bytes down) and file deletion (forget_file) give the space back.

set lock_timeout = '1s'; -- the trigger takes SHARE ROW EXCLUSIVE on vaults briefly

create table private.quota_settings (
  singleton boolean primary key default true check (singleton),
  default_vault_quota_bytes bigint null check (default_vault_quota_bytes > 0)
);
comment on table private.quota_settings is 'One row: the default per-vault byte quota (null: none).';
alter table private.quota_settings enable row level security; -- no policy: service_role bypasses RLS, definer functions read it
revoke all on table private.quota_settings from public, anon, authenticated;

create table private.vault_quotas (
  vault_id uuid primary key references public.vaults (id) on delete cascade,
  quota_bytes bigint not null check (quota_bytes > 0)
);
comment on table private.vault_quotas is 'Per-vault byte quotas set by the service role; they win over the default.';
alter table private.vault_quotas enable row level security; -- no policy: service_role bypasses RLS, definer functions read it
revoke all on table private.vault_quotas from public, anon, authenticated;

create function private.vault_quota(p_vault_id uuid) returns bigint
language sql stable
set search_path = ''
as $$
  select coalesce((select q.quota_bytes from private.vault_quotas q where q.vault_id = p_vault_id),
                  (select s.default_vault_quota_bytes from private.quota_settings s))
$$;
comment on function private.vault_quota(uuid) is 'The vault''s byte quota: its own, else the default; null when none.';
revoke execute on function private.vault_quota(uuid) from public, anon, authenticated;

create function private.refuse_pushes_past_quota() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  quota bigint := private.vault_quota(new.id);
  file_bytes bigint;
begin
  if quota is null then
    return new;
  end if;
  file_bytes := coalesce((select s.file_bytes from private.vault_file_state s where s.vault_id = new.id), 0);
  if new.bytes + file_bytes > quota then
    raise exception using errcode = 'PT413',
      message = format('the vault''s quota of %s bytes is used up (%s bytes of logs and files stored)', quota, old.bytes + file_bytes),
      detail = 'logs', hint = 'quota_exceeded';
  end if;
  return new;
end
$$;
comment on function private.refuse_pushes_past_quota() is
  'Trigger on vaults: a push that would take the vault''s logs and files past its quota fails with PT413 hint quota_exceeded (the push''s transaction, and so its logs, are rolled back).';
revoke execute on function private.refuse_pushes_past_quota() from public, anon, authenticated;

create trigger refuse_pushes_past_quota
  before update of bytes on public.vaults
  for each row when (new.bytes > old.bytes)
  execute function private.refuse_pushes_past_quota();

create function public.check_vault_quota(vault_id uuid, bytes bigint)
returns void
language plpgsql stable
security definer -- reads the quota tables and every Storage object of the vault, which the caller may not all read
set search_path = ''
as $$
declare
  quota bigint;
  used bigint;
begin
  perform private.require_vault_role(check_vault_quota.vault_id, 'writer');
  if check_vault_quota.bytes is null or check_vault_quota.bytes < 0 then
    raise exception using errcode = 'PT400', message = 'bytes must be a non-negative integer', detail = 'bytes';
  end if;
  quota := private.vault_quota(check_vault_quota.vault_id);
  if quota is null then
    return;
  end if;
  used := (select v.bytes from public.vaults v where v.id = check_vault_quota.vault_id)
        + (select coalesce(sum((o.metadata ->> 'size')::bigint), 0) from storage.objects o
           where o.bucket_id = 'vault-files' and o.name like check_vault_quota.vault_id::text || '/%');
  if used + check_vault_quota.bytes > quota then
    raise exception using errcode = 'PT413',
      message = format('%s more bytes do not fit the vault''s quota of %s bytes (%s used)', check_vault_quota.bytes, quota, used),
      detail = 'bytes', hint = 'quota_exceeded';
  end if;
end
$$;
comment on function public.check_vault_quota(uuid, bigint) is
  'API: PT413 hint quota_exceeded unless `bytes` more fit the vault''s quota (writers and above; the client calls it before storing file objects). SECURITY DEFINER: reads the quota and all of the vault''s Storage objects; access through private.require_vault_role.';
revoke execute on function public.check_vault_quota(uuid, bigint) from public, anon;
grant execute on function public.check_vault_quota(uuid, bigint) to authenticated;

-- SECURITY INVOKER over the caller's vaults (RLS on vaults); the private parts through a helper.
create function private.vault_file_bytes_and_quota(p_vault_id uuid, out file_bytes bigint, out quota_bytes bigint)
language sql stable
security definer -- reads vault_file_state and the quota tables; the caller's membership is checked by the caller (list_vault_usage filters by member_vault_ids)
set search_path = ''
as $$
  select coalesce((select s.file_bytes from private.vault_file_state s where s.vault_id = p_vault_id), 0),
         private.vault_quota(p_vault_id)
  where p_vault_id in (select private.member_vault_ids())
$$;
comment on function private.vault_file_bytes_and_quota(uuid) is 'A vault''s file bytes and quota, for a member of it (no row otherwise).';
revoke execute on function private.vault_file_bytes_and_quota(uuid) from public, anon;
grant execute on function private.vault_file_bytes_and_quota(uuid) to authenticated;

create function public.list_vault_usage()
returns table (vault_id uuid, log_bytes bigint, file_bytes bigint, used_bytes bigint, quota_bytes bigint)
language sql stable
set search_path = ''
as $$
  select v.id, v.bytes, u.file_bytes, v.bytes + u.file_bytes, u.quota_bytes
  from public.vaults v
  cross join lateral private.vault_file_bytes_and_quota(v.id) u
  where v.id in (select private.member_vault_ids())
  order by v.created_at, v.id
$$;
comment on function public.list_vault_usage() is
  'API: per vault the caller is a member of: bytes of live logs, of files, their sum and the quota (null: none). listVaults() merges it. SECURITY INVOKER; RLS applies.';
revoke execute on function public.list_vault_usage() from public, anon;
grant execute on function public.list_vault_usage() to authenticated;

create function public.set_vault_quota(vault_id uuid, quota_bytes bigint)
returns void
language plpgsql volatile
set search_path = ''
as $$
begin
  if set_vault_quota.vault_id is null then
    raise exception using errcode = 'PT400', message = 'vault_id must not be null', detail = 'vault_id';
  end if;
  if set_vault_quota.quota_bytes is null then
    delete from private.vault_quotas q where q.vault_id = set_vault_quota.vault_id;
    return;
  end if;
  if set_vault_quota.quota_bytes <= 0 then
    raise exception using errcode = 'PT400', message = 'quota_bytes must be positive (null: the default)', detail = 'quota_bytes';
  end if;
  if not exists (select from public.vaults v where v.id = set_vault_quota.vault_id) then
    raise exception using errcode = 'PT404', message = 'vault not found', detail = 'vault_id';
  end if;
  insert into private.vault_quotas as q (vault_id, quota_bytes) values (set_vault_quota.vault_id, set_vault_quota.quota_bytes)
  on conflict on constraint vault_quotas_pkey do update set quota_bytes = excluded.quota_bytes;
end
$$;
comment on function public.set_vault_quota(uuid, bigint) is
  'API for the service role only: sets a vault''s byte quota (null: back to the default). Exposed so that server code can set it through PostgREST; SECURITY INVOKER, executable by service_role alone.';
revoke execute on function public.set_vault_quota(uuid, bigint) from public, anon, authenticated;
grant execute on function public.set_vault_quota(uuid, bigint) to service_role;
grant select, insert, update, delete on table private.vault_quotas to service_role;

create function public.set_default_vault_quota(quota_bytes bigint)
returns void
language sql volatile
set search_path = ''
as $$
  insert into private.quota_settings as s (singleton, default_vault_quota_bytes) values (true, set_default_vault_quota.quota_bytes)
  on conflict (singleton) do update set default_vault_quota_bytes = excluded.default_vault_quota_bytes
$$;
comment on function public.set_default_vault_quota(bigint) is
  'API for the service role only: the default per-vault byte quota (null: none). The embedded stack calls it with config.toml [haex] vault_quota_bytes at start. SECURITY INVOKER, executable by service_role alone.';
revoke execute on function public.set_default_vault_quota(bigint) from public, anon, authenticated;
grant execute on function public.set_default_vault_quota(bigint) to service_role;
grant select, insert, update on table private.quota_settings to service_role;

reset lock_timeout;
