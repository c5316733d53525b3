create or replace function private.forget_checked_session()
  returns trigger
  language plpgsql
  set search_path to ''
  AS $function$
begin
  -- private.caller_id() keeps a passing session check for the rest of its transaction; a device
  -- revoked in that same transaction (revoke_device of the caller's own device, an admin's update)
  -- must be refused by the next check, so the kept verdict goes. Once per revoking statement (row
  -- level only for the rare insert of a row already revoked).
  perform set_config('haex_sync.checked_session', '', true);
  return null;
end
$function$;

comment on function "private"."forget_checked_session"() is 'Trigger of public.devices: a revocation (revoked_at written) clears the session check private.caller_id() keeps for the transaction (issue 25).';

revoke all on function "private"."forget_checked_session"() from public;
