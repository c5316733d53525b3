create or replace function private.keep_log_wire()
  returns trigger
  language plpgsql
  set search_path to ''
  AS $function$
begin
  -- The safety net under push_logs, which writes wire itself: any other insert (COPY, an admin's
  -- insert) and any update of a log's columns (author_id set null when its user is deleted) gets the
  -- wire of what the row now says. An update that sets wire itself (the backfill) is left alone.
  new.wire := private.log_wire(new.vault_id, new.sequence, new.id, new.author_id, new.device_id, new.encrypted_data,
                               new.nonce, new.haex_timestamp, new.created_at, new.record_key, new.key_generation);
  return new;
end
$function$;

comment on function "private"."keep_log_wire"() is 'Trigger of public.sync_logs: keeps wire equal to the row (issue 25) for inserts that leave it null and updates that do not set it.';

revoke all on function "private"."keep_log_wire"() from public;
