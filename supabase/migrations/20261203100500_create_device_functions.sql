-- The device functions (issue 19, docs/devices.md): register_device, list_devices, revoke_device,
-- and private.caller_device, which push_logs uses to set a log's device_id.
--
-- A device is the caller's Auth session (the JWT's session_id). Its row is made by the session's
-- first register_device or push, and never by anything the client says about another session.

set lock_timeout = '1s'; -- new functions only; bounded all the same

-- The caller's device: its row, made on first use (name as given, or null). last_seen_at moves
-- forward when it is a minute old, and only if no other request of the same device holds the row:
-- a device's concurrent pushes to different vaults never wait on each other here.
-- Null for a caller without a session (service_role naming a user). Internal: called by the
-- SECURITY DEFINER functions below and push_logs, after their session check (private.caller_id).
create function private.caller_device(uid uuid, device_name text default null)
returns public.devices
language plpgsql volatile
set search_path = ''
as $$
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
$$;
comment on function private.caller_device(uuid, text) is
  'The caller''s device (its session''s row of public.devices), registered on first use; last_seen_at refreshed when a minute old, skipped if the row is locked. Null without a session.';
revoke execute on function private.caller_device(uuid, text) from public, anon, authenticated;

-- The API's device shape, shared by register_device and list_devices.
create function private.device_answer(device public.devices, current_session uuid)
returns table (id uuid, name text, created_at timestamptz, last_seen_at timestamptz, current boolean,
               revoked_at timestamptz)
language sql immutable
set search_path = ''
as $$
  select device.id, device.name, device.created_at, device.last_seen_at, device.session_id = current_session,
         device.revoked_at
$$;
revoke execute on function private.device_answer(public.devices, uuid) from public, anon, authenticated;

-- Exposed: the client library calls it on first use, so that the device has the app's name.
create function public.register_device(device_name text default null)
returns table (id uuid, name text, created_at timestamptz, last_seen_at timestamptz, current boolean,
               revoked_at timestamptz)
language plpgsql volatile
security definer -- writes devices, on which API roles have no write grant
set search_path = ''
as $$
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
$$;
comment on function public.register_device(text) is
  'API: registers the caller''s session as a device (device_name: 1 to 128 characters, chosen by the app; null keeps the stored one) and answers it. SECURITY DEFINER because devices has no write grants.';
revoke execute on function public.register_device(text) from public, anon;
grant execute on function public.register_device(text) to authenticated;

-- Exposed: the device list of the user (the app shows it, so that a lost device can be revoked).
create function public.list_devices()
returns table (id uuid, name text, created_at timestamptz, last_seen_at timestamptz, current boolean,
               revoked_at timestamptz)
language plpgsql volatile
security definer -- reads auth.sessions (a session ended by sign-out is shown revoked) and writes devices
set search_path = ''
as $$
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
$$;
comment on function public.list_devices() is
  'API: the caller''s devices (current: this session; revoked_at: when revoked or first seen signed out), oldest first. SECURITY DEFINER to read auth.sessions.';
revoke execute on function public.list_devices() from public, anon;
grant execute on function public.list_devices() to authenticated;

-- Exposed: ends a device of the caller (the caller's own included).
create function public.revoke_device(device_id uuid)
returns void
language plpgsql volatile
security definer -- writes devices and deletes the device's auth.sessions row
set search_path = ''
as $$
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
$$;
comment on function public.revoke_device(uuid) is
  'API: revokes one of the caller''s devices (PT404 when absent or not the caller''s): every request of its session is refused from the commit on, and its Auth session is deleted (refresh refused). SECURITY DEFINER because devices has no write grants and auth.sessions is GoTrue''s.';
revoke execute on function public.revoke_device(uuid) from public, anon;
grant execute on function public.revoke_device(uuid) to authenticated;

reset lock_timeout;
