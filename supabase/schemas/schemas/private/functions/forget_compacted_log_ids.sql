create or replace function private.forget_compacted_log_ids()
  returns trigger
  language plpgsql
  security definer
  set search_path to ''
  AS $function$
begin
  delete from private.compacted_log_ids c where c.vault_id = old.id;
  return null;
end
$function$;

comment on function "private"."forget_compacted_log_ids"() is 'AFTER DELETE trigger of public.vaults: drops the compacted ids of the deleted vault.';

revoke all on function "private"."forget_compacted_log_ids"() from public;

grant execute on function "private"."forget_compacted_log_ids"() to "postgres";
