create or replace function private.device_answer (
  device          public.devices,
  current_session uuid
)
  returns table (
    id           uuid,
    name         text,
    created_at   timestamp with time zone,
    last_seen_at timestamp with time zone,
    current      boolean,
    revoked_at   timestamp with time zone
  )
  language sql
  immutable
  set search_path to ''
  AS $function$
  select device.id, device.name, device.created_at, device.last_seen_at, device.session_id = current_session,
         device.revoked_at
$function$;

revoke all on function "private"."device_answer"(public.devices, uuid) from public;

grant execute on function "private"."device_answer"(public.devices, uuid) to "postgres";
