create or replace function public.list_devices()
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
  current_session uuid := nullif(auth.jwt() ->> 'session_id', '')::uuid;
begin
  -- A session that ended without revoke_device (sign-out, refresh-token reuse, password change)
  -- is a revoked device from now on: its revoked_at is when this list first saw it gone.
  update public.devices d set revoked_at = now()
  where d.user_id = uid and d.revoked_at is null
    and not exists (select from auth.sessions s where s.id = d.session_id);
  return query
    select a.*
    from public.devices d, private.device_answer(d, current_session) a
    where d.user_id = uid
    order by d.created_at, d.id;
end
$function$;

comment on function "public"."list_devices"() is 'API: the caller''s devices (current: this session; revoked_at: when revoked or first seen signed out), oldest first. SECURITY DEFINER to read auth.sessions.';

revoke all on function "public"."list_devices"() from public;

grant execute on function "public"."list_devices"() to "authenticated", "postgres", "service_role";
