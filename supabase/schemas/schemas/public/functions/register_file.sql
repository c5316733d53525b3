create or replace function public.register_file (
  vault_id    uuid,
  file_id     uuid,
  size        bigint,
  chunk_count bigint
)
  returns SETOF public.vault_files
  language plpgsql
  security definer
  set search_path to ''
  AS $function$
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
$function$;

comment on function "public"."register_file"(uuid, uuid, bigint, bigint) is 'API: records a complete file (writers and above; PT409 hint file_incomplete unless its header and chunks 0..chunk_count-1 are stored); idempotent. SECURITY DEFINER: writes vault_files and reads the vault''s storage.objects; access through private.require_vault_role.';

revoke all on function "public"."register_file"(uuid, uuid, bigint, bigint) from public;

grant execute on function "public"."register_file"(uuid, uuid, bigint, bigint) to "authenticated", "postgres", "service_role";
