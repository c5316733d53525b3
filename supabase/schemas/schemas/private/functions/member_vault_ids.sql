create or replace function private.member_vault_ids()
  returns SETOF uuid
  language plpgsql
  stable
  security definer
  rows 10
  set search_path to ''
  AS $function$
begin
  return query select m.vault_id from public.vault_members m where m.user_id = (select private.caller_id());
end
$function$;

comment on function "private"."member_vault_ids"() is 'The ids of the vaults the caller is a member of (any role).';

revoke all on function "private"."member_vault_ids"() from public;

grant execute on function "private"."member_vault_ids"() to "authenticated", "postgres";
