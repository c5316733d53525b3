create or replace function private.lock_vault_for_member_change (
  p_vault_id uuid,
  p_user_id  uuid
)
  returns text
  language plpgsql
  set search_path to ''
  AS $function$
declare
  caller_role text;
  target_role text;
begin
  perform private.require_vault_role(p_vault_id, 'admin');
  perform private.require_arg('user_id', p_user_id);
  perform from public.vaults v where v.id = p_vault_id for update;
  caller_role := private.require_vault_role(p_vault_id, 'admin');
  select m.role into target_role from public.vault_members m
  where m.vault_id = p_vault_id and m.user_id = p_user_id for update;
  if target_role is null then
    raise exception using errcode = 'PT404', message = 'member not found', detail = 'user_id';
  end if;
  if private.role_rank(target_role) >= private.role_rank(caller_role) then
    raise exception using errcode = 'PT403', message = format('a %s may not change a %s', caller_role, target_role),
      detail = 'user_id';
  end if;
  return caller_role;
end
$function$;

comment on function "private"."lock_vault_for_member_change"(uuid, uuid) is 'For set_member_role and remove_member: takes the vault lock, checks the caller outranks the target; returns the caller''s role.';

revoke all on function "private"."lock_vault_for_member_change"(uuid, uuid) from public;

grant execute on function "private"."lock_vault_for_member_change"(uuid, uuid) to "postgres";
