-- Encrypted files in a vault (issue 26, docs/files.md): the record of each complete file, and the
-- per-vault state of its files. The bytes live in Supabase Storage (bucket `vault-files`, objects
-- `<vault_id>/<file_id>/header` and `.../c/<index>`, next migration); the server never reads them.
--
--   public.vault_files          one row per complete file: plaintext size (as the writer says;
--                               clients check it against the authenticated chunks), chunk count,
--                               the stored (ciphertext) bytes its objects hold, created_at. Members
--                               read the rows of their vaults; writes go through the functions below.
--   private.vault_file_state    per vault: file_bytes (sum of stored_bytes of its files, for
--                               quotas and list_vault_usage) and deletion_started_at (the owner began
--                               deleting the vault: no new objects).
--
-- New tables only (the foreign keys lock public.vaults briefly in SHARE ROW EXCLUSIVE: bounded).

set lock_timeout = '1s';

create table public.vault_files (
  vault_id uuid not null references public.vaults (id) on delete cascade,
  file_id uuid not null,
  size bigint not null check (size >= 0),
  chunk_count bigint not null check (chunk_count between 1 and 4294967295),
  stored_bytes bigint not null check (stored_bytes >= 0),
  created_at timestamptz not null default now(),
  primary key (vault_id, file_id)
);
comment on table public.vault_files is
  'Complete encrypted files of a vault (issue 26): size in plaintext bytes, chunk_count, stored_bytes of its Storage objects. Members read; writes through register_file and forget_file.';
-- files() lists a vault's files oldest first
create index vault_files_vault_id_created_at_idx on public.vault_files (vault_id, created_at, file_id);

alter table public.vault_files enable row level security;
revoke all on table public.vault_files from anon, authenticated;
grant select on table public.vault_files to authenticated;
create policy "Members can read the file records of their vaults" on public.vault_files
  for select to authenticated
  using (vault_id in (select private.member_vault_ids()));

create table private.vault_file_state (
  vault_id uuid primary key references public.vaults (id) on delete cascade,
  file_bytes bigint not null default 0 check (file_bytes >= 0),
  deletion_started_at timestamptz null
);
comment on table private.vault_file_state is
  'Per vault: file_bytes (sum of vault_files.stored_bytes) and deletion_started_at (prepare_vault_deletion: no new file objects).';
alter table private.vault_file_state enable row level security; -- no policy: only definer functions read it
revoke all on table private.vault_file_state from public, anon, authenticated;

-- register_file: the last step of an upload. The server checks what it can (the objects exist,
-- and counts their bytes itself); the plaintext size is the writer's word, which readers check.
create function public.register_file(vault_id uuid, file_id uuid, size bigint, chunk_count bigint)
returns setof public.vault_files
language plpgsql volatile
security definer -- writes vault_files and vault_file_state (no write grants) and reads storage.objects of the vault
set search_path = ''
as $$
declare
  folder text := register_file.vault_id::text || '/' || register_file.file_id::text || '/';
  found_chunks bigint;
  highest_chunk bigint;
  has_header boolean;
  stored bigint;
  inserted public.vault_files;
begin
  perform private.require_vault_role(register_file.vault_id, 'writer');
  if register_file.file_id is null then
    raise exception using errcode = 'PT400', message = 'file_id must be a uuid', detail = 'file_id';
  end if;
  if register_file.size is null or register_file.size < 0 then
    raise exception using errcode = 'PT400', message = 'size must be a non-negative integer', detail = 'size';
  end if;
  if register_file.chunk_count is null or register_file.chunk_count not between 1 and 4294967295 then
    raise exception using errcode = 'PT400', message = 'chunk_count must be 1 to 4294967295', detail = 'chunk_count';
  end if;
  select count(*) filter (where o.name like folder || 'c/%'),
         max(case when o.name ~ ('^' || folder || 'c/[0-9]{10}$') then substr(o.name, length(folder) + 3)::bigint end),
         bool_or(o.name = folder || 'header'),
         coalesce(sum((o.metadata ->> 'size')::bigint), 0)
  into found_chunks, highest_chunk, has_header, stored
  from storage.objects o
  where o.bucket_id = 'vault-files' and o.name like folder || '%';
  if not coalesce(has_header, false) or found_chunks <> register_file.chunk_count
     or highest_chunk is distinct from register_file.chunk_count - 1 then
    raise exception using errcode = 'PT409',
      message = format('the file''s objects do not match: header %s, %s of %s chunks stored', coalesce(has_header, false),
                       found_chunks, register_file.chunk_count),
      detail = 'chunk_count', hint = 'file_incomplete';
  end if;

  insert into public.vault_files as f (vault_id, file_id, size, chunk_count, stored_bytes)
  values (register_file.vault_id, register_file.file_id, register_file.size, register_file.chunk_count, stored)
  on conflict on constraint vault_files_pkey do nothing
  returning f.* into inserted;
  if inserted.file_id is not null then
    insert into private.vault_file_state as s (vault_id, file_bytes) values (register_file.vault_id, stored)
    on conflict on constraint vault_file_state_pkey do update set file_bytes = s.file_bytes + excluded.file_bytes;
  end if;
  return query select f.* from public.vault_files f
    where f.vault_id = register_file.vault_id and f.file_id = register_file.file_id;
end
$$;
comment on function public.register_file(uuid, uuid, bigint, bigint) is
  'API: records a complete file (writers and above; PT409 hint file_incomplete unless its header and chunks 0..chunk_count-1 are stored); idempotent. SECURITY DEFINER: writes vault_files and reads the vault''s storage.objects; access through private.require_vault_role.';
revoke execute on function public.register_file(uuid, uuid, bigint, bigint) from public, anon;
grant execute on function public.register_file(uuid, uuid, bigint, bigint) to authenticated;

create function public.forget_file(vault_id uuid, file_id uuid)
returns void
language plpgsql volatile
security definer -- writes vault_files and vault_file_state (no write grants)
set search_path = ''
as $$
declare
  freed bigint;
begin
  perform private.require_vault_role(forget_file.vault_id, 'writer');
  delete from public.vault_files f where f.vault_id = forget_file.vault_id and f.file_id = forget_file.file_id
  returning f.stored_bytes into freed;
  if freed is not null then
    update private.vault_file_state s set file_bytes = greatest(s.file_bytes - freed, 0) where s.vault_id = forget_file.vault_id;
  end if;
end
$$;
comment on function public.forget_file(uuid, uuid) is
  'API: drops a file''s record (writers and above), the first step of deleting it; the client then removes its objects through the Storage API. Idempotent. SECURITY DEFINER: writes vault_files; access through private.require_vault_role.';
revoke execute on function public.forget_file(uuid, uuid) from public, anon;
grant execute on function public.forget_file(uuid, uuid) to authenticated;

create function public.prepare_vault_deletion(vault_id uuid)
returns void
language plpgsql volatile
security definer -- writes vault_file_state (no write grants)
set search_path = ''
as $$
begin
  perform private.require_vault_role(prepare_vault_deletion.vault_id, 'owner');
  insert into private.vault_file_state as s (vault_id, deletion_started_at) values (prepare_vault_deletion.vault_id, now())
  on conflict on constraint vault_file_state_pkey do update set deletion_started_at = coalesce(s.deletion_started_at, excluded.deletion_started_at);
end
$$;
comment on function public.prepare_vault_deletion(uuid) is
  'API: the owner starts deleting a vault: from now on no member stores a file object in it (the storage.objects policies refuse), so the client can remove them all before delete_vault. Idempotent. SECURITY DEFINER: writes vault_file_state; access through private.require_vault_role.';
revoke execute on function public.prepare_vault_deletion(uuid) from public, anon;
grant execute on function public.prepare_vault_deletion(uuid) to authenticated;

reset lock_timeout;
