create or replace function private.vault_role (
  p_vault_id uuid
)
  returns text
  language plpgsql
  stable
  security definer
  set search_path to ''
  AS $function$
begin
  -- plpgsql keeps this plan for the session (see member_vault_ids below)
  return (select m.role from public.vault_members m
          where m.vault_id = p_vault_id and m.user_id = (select private.caller_id()));
end
$function$;

comment on function "private"."vault_role"(uuid) is 'The caller''s role in a vault, or null for a non-member (and for no such vault).';

revoke all on function "private"."vault_role"(uuid) from public;

grant execute on function "private"."vault_role"(uuid) to "authenticated", "postgres";
