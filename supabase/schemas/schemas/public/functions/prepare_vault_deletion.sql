create or replace function public.prepare_vault_deletion (
  vault_id uuid
)
  returns void
  language plpgsql
  security definer
  set search_path to ''
  AS $function$
begin
  perform private.require_vault_role(prepare_vault_deletion.vault_id, 'owner');
  insert into private.vault_file_state as s (vault_id, deletion_started_at) values (prepare_vault_deletion.vault_id, now())
  on conflict on constraint vault_file_state_pkey do update set deletion_started_at = coalesce(s.deletion_started_at, excluded.deletion_started_at);
end
$function$;

comment on function "public"."prepare_vault_deletion"(uuid) is 'API: the owner starts deleting a vault: from now on no member stores a file object in it (the storage.objects policies refuse), so the client can remove them all before delete_vault. Idempotent. SECURITY DEFINER: writes vault_file_state; access through private.require_vault_role.';

revoke all on function "public"."prepare_vault_deletion"(uuid) from public;

grant execute on function "public"."prepare_vault_deletion"(uuid) to "authenticated", "postgres", "service_role";
