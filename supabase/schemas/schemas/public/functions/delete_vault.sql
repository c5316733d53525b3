create or replace function public.delete_vault (
  vault_id uuid
)
  returns void
  language plpgsql
  security definer
  set search_path to ''
  AS $function$
begin
  perform private.require_vault_role(delete_vault.vault_id, 'owner');
  if exists (select from storage.objects o
             where o.bucket_id = 'vault-files' and o.name like delete_vault.vault_id::text || '/%') then
    raise exception using errcode = 'PT409',
      message = 'the vault still has files in Storage: remove them through the Storage API first (the client''s deleteVault does)',
      detail = 'vault_id', hint = 'vault_files_remain';
  end if;
  -- Takes the vault's row lock, so a push in progress finishes first; a push waiting for the lock
  -- then finds no vault (PT404).
  delete from public.vaults v where v.id = delete_vault.vault_id;
  if not found then
    raise exception using errcode = 'PT404', message = 'vault not found', detail = 'vault_id';
  end if;
end
$function$;

comment on function "public"."delete_vault"(uuid) is 'API: deletes a vault the caller owns with its members, keys, grants, logs and file records; PT409 hint vault_files_remain while Storage objects of it remain; PT403 for another member, PT404 when absent or not a member. SECURITY DEFINER because the tables have no write grants; access through private.require_vault_role.';

revoke all on function "public"."delete_vault"(uuid) from public;

grant execute on function "public"."delete_vault"(uuid) to "authenticated", "postgres", "service_role";
