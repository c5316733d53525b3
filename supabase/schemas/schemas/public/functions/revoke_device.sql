create or replace function public.revoke_device (
  device_id uuid
)
  returns void
  language plpgsql
  security definer
  set search_path to ''
  AS $function$
declare
  uid uuid := private.require_uid();
  ended_session uuid;
begin
  if revoke_device.device_id is null then
    raise exception using errcode = 'PT400', message = 'device_id must not be null', detail = 'device_id';
  end if;
  update public.devices d set revoked_at = coalesce(d.revoked_at, now())
  where d.id = revoke_device.device_id and d.user_id = uid
  returning d.session_id into ended_session;
  if not found then -- absent and other users' devices alike
    raise exception using errcode = 'PT404', message = 'device not found', detail = 'device_id';
  end if;
  -- From this commit on, private.caller_id() refuses the session's tokens (revoked_at). Deleting the
  -- session is GoTrue's logout: its refresh tokens go with it (foreign keys on delete cascade).
  -- Where the function's owner may not delete Auth sessions, data access still ends; refresh then
  -- keeps working until the session's own end (docs/devices.md).
  begin
    delete from auth.sessions s where s.id = ended_session;
  exception when insufficient_privilege then
    raise warning 'revoke_device: cannot delete auth.sessions rows (grant DELETE on auth.sessions to the owner of public.revoke_device)';
  end;
  -- The embedded Realtime closes the session's channels on this notice (delivered at commit).
  perform pg_notify('haex_session_ended', ended_session::text);
end
$function$;

comment on function "public"."revoke_device"(uuid) is 'API: revokes one of the caller''s devices (PT404 when absent or not the caller''s): every request of its session is refused from the commit on, and its Auth session is deleted (refresh refused). SECURITY DEFINER because devices has no write grants and auth.sessions is GoTrue''s.';

revoke all on function "public"."revoke_device"(uuid) from public;

grant execute on function "public"."revoke_device"(uuid) to "authenticated", "postgres", "service_role";
