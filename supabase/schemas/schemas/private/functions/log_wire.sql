create or replace function private.log_wire (
  vault_id       uuid,
  sequence       bigint,
  id             uuid,
  author_id      uuid,
  device_id      text,
  encrypted_data text,
  nonce          text,
  haex_timestamp text,
  created_at     timestamp with time zone,
  record_key     text,
  key_generation bigint
)
  returns text
  language sql
  stable
  parallel safe
  AS $function$
  -- The log as a pull page sends it, in the HTTP API's shape (docs/http-api.md: a sync_logs row with
  -- camelCase keys, in table order), compact (no spaces), built once at push instead of at every
  -- pull. created_at in UTC with microseconds, so the text does not depend on the session's TimeZone.
  -- Text fields go through to_json (escaped); uuids and numbers cannot need escaping.
  select '{"vaultId":"' || log_wire.vault_id::text || '","sequence":' || log_wire.sequence::text
      || ',"id":"' || log_wire.id::text
      || '","authorId":' || coalesce('"' || log_wire.author_id::text || '"', 'null')
      || ',"deviceId":' || coalesce(to_json(log_wire.device_id)::text, 'null')
      || ',"encryptedData":' || to_json(log_wire.encrypted_data)::text
      || ',"nonce":' || to_json(log_wire.nonce)::text
      || ',"haexTimestamp":' || to_json(log_wire.haex_timestamp)::text
      || ',"createdAt":"' || to_char(log_wire.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') || '+00:00"'
      || ',"recordKey":' || coalesce(to_json(log_wire.record_key)::text, 'null')
      || ',"keyGeneration":' || log_wire.key_generation::text || '}'
$function$;

comment on function "private"."log_wire"(uuid, bigint, uuid, uuid, text, text, text, text, timestamp with time zone, text, bigint) is 'The wire JSON of one log (issue 25), in the HTTP API''s camelCase shape: what sync_logs.wire holds and public.pull_page concatenates. Without a SET clause on purpose (every name is qualified), so that PostgreSQL inlines it into push_logs'' insert and the sync_logs trigger instead of calling it per row.';

revoke all on function "private"."log_wire"(uuid, bigint, uuid, uuid, text, text, text, text, timestamp with time zone, text, bigint) from public;

grant execute on function "private"."log_wire"(uuid, bigint, uuid, uuid, text, text, text, text, timestamp with time zone, text, bigint) to "postgres";
