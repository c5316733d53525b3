create or replace function public.forget_file (
  vault_id uuid,
  file_id  uuid
)
  returns void
  language plpgsql
  security definer
  set search_path to ''
  AS $function$
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
$function$;

comment on function "public"."forget_file"(uuid, uuid) is 'API: drops a file''s record (writers and above), the first step of deleting it; the client then removes its objects through the Storage API. Idempotent. SECURITY DEFINER: writes vault_files; access through private.require_vault_role.';

revoke all on function "public"."forget_file"(uuid, uuid) from public;

grant execute on function "public"."forget_file"(uuid, uuid) to "authenticated", "postgres", "service_role";
