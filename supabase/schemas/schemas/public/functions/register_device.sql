create or replace function public.register_device (
  device_name text default null::text
)
  returns table (
    id           uuid,
    name         text,
    created_at   timestamp with time zone,
    last_seen_at timestamp with time zone,
    current      boolean,
    revoked_at   timestamp with time zone
  )
  language plpgsql
  security definer
  set search_path to ''
  AS $function$
declare
  uid uuid := private.require_uid();
  device public.devices;
begin
  if register_device.device_name is not null and char_length(register_device.device_name) not between 1 and 128 then
    raise exception using errcode = 'PT400', message = 'device_name must be null or 1 to 128 characters', detail = 'device_name';
  end if;
  device := private.caller_device(uid, register_device.device_name);
  if device.id is null then
    raise exception using errcode = 'PT401', message = 'a device needs a signed-in session (session_id)',
      detail = 'authorization', hint = 'session_required';
  end if;
  if register_device.device_name is not null and device.name is distinct from register_device.device_name then
    update public.devices d set name = register_device.device_name where d.id = device.id returning * into device;
  end if;
  -- Revoked devices are listed for 30 days, then forgotten (bounded by the user's own devices).
  delete from public.devices d where d.user_id = uid and d.revoked_at < now() - interval '30 days';
  return query select * from private.device_answer(device, device.session_id);
end
$function$;

comment on function "public"."register_device"(text) is 'API: registers the caller''s session as a device (device_name: 1 to 128 characters, chosen by the app; null keeps the stored one) and answers it. SECURITY DEFINER because devices has no write grants.';

revoke all on function "public"."register_device"(text) from public;

grant execute on function "public"."register_device"(text) to "authenticated", "postgres", "service_role";
