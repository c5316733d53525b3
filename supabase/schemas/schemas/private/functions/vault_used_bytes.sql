create or replace function private.vault_used_bytes (
  p_vault_id uuid
)
  returns bigint
  language sql
  stable
  set search_path to ''
  AS $function$
  -- Its live logs and every object it has in Storage (complete files or not). One scan of the
  -- vault's objects, from the functions that run before an upload (never on a push).
  select (select v.bytes from public.vaults v where v.id = p_vault_id)
       + (select coalesce(sum((o.metadata ->> 'size')::bigint), 0) from storage.objects o
          where o.bucket_id = 'vault-files' and o.name like p_vault_id::text || '/%')
$function$;

comment on function "private"."vault_used_bytes"(uuid) is 'Bytes a vault stores for its quota, counted exactly: its live logs and all its objects in Storage.';

revoke all on function "private"."vault_used_bytes"(uuid) from public;

grant execute on function "private"."vault_used_bytes"(uuid) to "postgres";
