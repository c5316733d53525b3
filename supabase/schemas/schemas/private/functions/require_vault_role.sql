create or replace function private.require_vault_role (
  p_vault_id uuid,
  p_min_role text
)
  returns text
  language plpgsql
  stable
  security definer
  set search_path to ''
  AS $function$
declare
  uid uuid := private.caller_id();
  found_role text;
begin
  if p_vault_id is null then
    raise exception using errcode = 'PT400', message = 'vault_id must not be null', detail = 'vault_id';
  end if;
  if uid is null then
    raise exception using errcode = 'PT401', message = 'a signed-in user is required', detail = 'authorization';
  end if;
  found_role := (select m.role from public.vault_members m where m.vault_id = p_vault_id and m.user_id = uid);
  if found_role is null then
    raise exception using errcode = 'PT404', message = 'vault not found', detail = 'vault_id';
  end if;
  if private.role_rank(found_role) < private.role_rank(p_min_role) then
    raise exception using errcode = 'PT403', message = format('a %s of this vault may not do this', found_role),
      detail = 'vault_id';
  end if;
  return found_role;
end
$function$;

comment on function "private"."require_vault_role"(uuid, text) is 'The caller''s role in the vault if at least p_min_role; else PT404 (not a member) or PT403 (role too low).';

revoke all on function "private"."require_vault_role"(uuid, text) from public;

grant execute on function "private"."require_vault_role"(uuid, text) to "postgres";
