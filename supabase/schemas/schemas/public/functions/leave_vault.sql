create or replace function public.leave_vault (
  vault_id uuid
)
  returns void
  language plpgsql
  security definer
  set search_path to ''
  AS $function$
declare
  caller_role text := private.require_vault_role(leave_vault.vault_id, 'reader');
begin
  if caller_role = 'owner' then
    raise exception using errcode = 'PT403', message = 'the owner cannot leave; delete the vault instead',
      detail = 'vault_id';
  end if;
  perform from public.vaults v where v.id = leave_vault.vault_id for update;
  perform private.drop_member(leave_vault.vault_id, (select private.caller_id()));
end
$function$;

comment on function "public"."leave_vault"(uuid) is 'API: the caller leaves a vault (not its owner: PT403); access ends at once; sets key_rotation_due. SECURITY DEFINER because the tables have no write grants.';

revoke all on function "public"."leave_vault"(uuid) from public;

grant execute on function "public"."leave_vault"(uuid) to "authenticated", "postgres", "service_role";
