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
  -- Takes the vault's row lock, so a push in progress finishes first; a push waiting for the lock
  -- then finds no vault (PT404).
  delete from public.vaults v where v.id = delete_vault.vault_id;
  if not found then
    raise exception using errcode = 'PT404', message = 'vault not found', detail = 'vault_id';
  end if;
end
$function$;

comment on function "public"."delete_vault"(uuid) is 'API: deletes a vault the caller owns with its members, keys, grants and logs; PT403 for another member, PT404 when absent or not a member. SECURITY DEFINER because the tables have no write grants; access through private.require_vault_role.';

revoke all on function "public"."delete_vault"(uuid) from public;

grant execute on function "public"."delete_vault"(uuid) to "authenticated", "postgres", "service_role";
