create or replace function public.set_member_role (
  vault_id uuid,
  user_id  uuid,
  role     text
)
  returns void
  language plpgsql
  security definer
  set search_path to ''
  AS $function$
declare
  caller_role text;
  old_role text;
begin
  if set_member_role.role is null or set_member_role.role not in ('admin', 'writer', 'reader') then
    raise exception using errcode = 'PT400', message = 'role must be admin, writer or reader', detail = 'role';
  end if;
  caller_role := private.lock_vault_for_member_change(set_member_role.vault_id, set_member_role.user_id);
  if private.role_rank(set_member_role.role) >= private.role_rank(caller_role) then
    raise exception using errcode = 'PT403', message = format('a %s may not give the role %s', caller_role, set_member_role.role),
      detail = 'role';
  end if;
  -- The target's row is locked (private.lock_vault_for_member_change).
  select m.role into old_role from public.vault_members m
  where m.vault_id = set_member_role.vault_id and m.user_id = set_member_role.user_id;
  update public.vault_members m set role = set_member_role.role
  where m.vault_id = set_member_role.vault_id and m.user_id = set_member_role.user_id;
  -- A demoted admin's invitations and links end with their right to make them.
  if old_role = 'admin' and set_member_role.role <> 'admin' then
    perform private.void_invites_by(set_member_role.vault_id, set_member_role.user_id);
  end if;
end
$function$;

comment on function "public"."set_member_role"(uuid, uuid, text) is 'API: changes a member''s role (admins: writer/reader of writers and readers; the owner: any role but owner of anyone but itself); demoting an admin voids their invitations and links. SECURITY DEFINER because vault_members has no write grants; access through private.require_vault_role.';

revoke all on function "public"."set_member_role"(uuid, uuid, text) from public;

grant execute on function "public"."set_member_role"(uuid, uuid, text) to "authenticated", "postgres", "service_role";
