create or replace function private.caller_device (
  uid         uuid,
  device_name text default null::text
)
  returns public.devices
  language plpgsql
  set search_path to ''
  AS $function$
declare
  session_claim uuid := nullif(auth.jwt() ->> 'session_id', '')::uuid; -- caller_id has checked its form
  device public.devices;
begin
  if session_claim is null then
    return null;
  end if;
  select * into device from public.devices d where d.session_id = session_claim;
  if not found then
    insert into public.devices (user_id, session_id, name) values (uid, session_claim, device_name)
    on conflict (session_id) do nothing
    returning * into device;
    if not found then -- registered concurrently by another request of the same session
      select * into device from public.devices d where d.session_id = session_claim;
    end if;
  elsif device.last_seen_at < now() - interval '1 minute' then
    update public.devices d set last_seen_at = now()
    where d.id = (select s.id from public.devices s
                  where s.id = device.id and s.last_seen_at < now() - interval '1 minute'
                  for update skip locked);
  end if;
  return device;
end
$function$;

comment on function "private"."caller_device"(uuid, text) is 'The caller''s device (its session''s row of public.devices), registered on first use; last_seen_at refreshed when a minute old, skipped if the row is locked. Null without a session.';

revoke all on function "private"."caller_device"(uuid, text) from public;

grant execute on function "private"."caller_device"(uuid, text) to "postgres";
