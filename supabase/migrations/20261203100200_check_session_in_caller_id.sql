-- private.caller_id() checks the caller's session (issue 19): a token whose Auth session has ended
-- (signed out, revoked with revoke_device, refresh-token reuse, the user deleted) is refused at once,
-- not when it expires.
--
-- Rules, in order:
--   * no user in the request (anon, the service key): the user id as before (null); nothing to check.
--   * role service_role: trusted server code, which has no session; its `sub`, if any, as before.
--   * any other token with a user: its `session_id` claim must name a row of auth.sessions of that
--     user, not past its not_after, whose device (public.devices, if registered) is not revoked.
--     Otherwise SQLSTATE PT401, hint session_revoked (the HTTP layers answer 401 `session_revoked`).
--     A token WITHOUT session_id (minted by hand with the JWT secret or a signing key, never by
--     Supabase Auth) is refused too, hint session_required: its holder could mint service_role
--     tokens anyway, and no user token escapes the check (docs/devices.md).
-- Reads only auth.sessions, which hosted Supabase Auth keeps the same way, and public.devices.
--
-- Cost: two index probes (auth.sessions' primary key, devices_session_id_idx). Policies call it as
-- `(select private.caller_id())`: an initplan, evaluated once per statement. SECURITY DEFINER
-- because `authenticated` may read neither auth.sessions nor other users' sessions; it reveals only
-- whether the caller's own session is live.
--
-- private.require_uid() (the first call of every SECURITY DEFINER function) goes through it, and
-- keeps its deleted-user check only as a message: a deleted user's sessions are gone with it.

set lock_timeout = '1s'; -- replacing functions locks no table; bounded all the same

create or replace function private.caller_id() returns uuid
language plpgsql stable
security definer -- reads auth.sessions and public.devices, which the caller's role may not read
set search_path = ''
as $$
declare
  -- The claims parsed once; uid and role read as auth.uid() and auth.role() read them (the
  -- per-claim settings first), without parsing request.jwt.claims three times.
  claims jsonb := nullif(current_setting('request.jwt.claims', true), '')::jsonb;
  uid uuid := coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''), claims ->> 'sub')::uuid;
  session_claim text := claims ->> 'session_id';
begin
  if uid is null or coalesce(nullif(current_setting('request.jwt.claim.role', true), ''), claims ->> 'role') = 'service_role' then
    return uid;
  end if;
  if session_claim is null or session_claim !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
    raise exception using errcode = 'PT401', message = 'the token names no Auth session (session_id): sign in to get one',
      detail = 'authorization', hint = 'session_required';
  end if;
  if not exists (
    select from auth.sessions s
    where s.id = session_claim::uuid and s.user_id = uid and (s.not_after is null or s.not_after > now())
      and not exists (select from public.devices d where d.session_id = s.id and d.revoked_at is not null)
  ) then
    raise exception using errcode = 'PT401', message = 'the session has ended (signed out or device revoked): sign in again',
      detail = 'authorization', hint = 'session_revoked';
  end if;
  return uid;
end
$$;
comment on function private.caller_id() is
  'The calling user''s id as every policy and access helper reads it: auth.uid() of a live Auth session whose device is not revoked, else PT401 (hint session_revoked / session_required); null without a user; service_role unchecked. Policies call it once per statement. SECURITY DEFINER to read auth.sessions and devices.';
revoke execute on function private.caller_id() from public, anon;
grant execute on function private.caller_id() to authenticated;

create or replace function private.require_uid() returns uuid
language plpgsql stable
set search_path = ''
as $$
declare
  uid uuid := private.caller_id();
begin
  if uid is null then
    raise exception using errcode = 'PT401', message = 'a signed-in user is required', detail = 'authorization';
  end if;
  -- Only a service_role token naming a user gets here without a session check.
  if not exists (select 1 from auth.users u where u.id = uid) then
    raise exception using errcode = 'PT401', message = 'the token''s user does not exist (deleted account)',
      detail = 'authorization';
  end if;
  return uid;
end
$$;
comment on function private.require_uid() is
  'private.caller_id() of an existing user, or PT401 when the request has no user, its session ended or the user was deleted. Used by the SECURITY DEFINER functions.';

reset lock_timeout;
