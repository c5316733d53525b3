create or replace function private.keep_vault_tombstone()
  returns trigger
  language plpgsql
  security definer
  set search_path to ''
  AS $function$
begin
  insert into private.vault_tombstones (vault_id) values (old.id) on conflict do nothing;
  return null;
end
$function$;

comment on function "private"."keep_vault_tombstone"() is 'AFTER DELETE trigger of public.vaults: records the deleted id in private.vault_tombstones.';

revoke all on function "private"."keep_vault_tombstone"() from public;

grant execute on function "private"."keep_vault_tombstone"() to "postgres";
