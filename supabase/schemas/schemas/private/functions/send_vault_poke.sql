create or replace function private.send_vault_poke()
  returns trigger
  language plpgsql
  set search_path to ''
  AS $function$
begin
  perform realtime.send(
    jsonb_build_object('vaultId', new.id, 'lastSequence', new.last_sequence),
    'logs',
    'vault:' || new.id::text,
    true
  );
  return null;
end;
$function$;

comment on function "private"."send_vault_poke"() is 'Trigger: after a push raised vaults.last_sequence, broadcasts {vaultId, lastSequence} as event logs on private topic vault:<id>.';

revoke all on function "private"."send_vault_poke"() from public;

grant execute on function "private"."send_vault_poke"() to "postgres";
