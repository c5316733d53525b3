-- private.caller_id() checks the session only of tokens the project's own Auth issued (issue 24
-- item 4). Those always carry a `session_id` claim; a verified token without one (Supabase
-- third-party auth: Clerk, Auth0, Firebase, Cognito; tokens a project mints itself with its signing
-- key) has no Auth session to check and passes unchanged to RLS, as it does on any Supabase project
-- without this hook. It refused every such token project-wide (hint session_required).
--
-- Unchanged: a token WITH session_id must name a live session of its user whose device is not
-- revoked (PT401 hint session_revoked); a malformed session_id is still refused (PT401 hint
-- session_required), since the project's Auth never issues one. The pre-request hook
-- (private.check_request) calls this function, so both follow the same rule (docs/hosted.md).

set lock_timeout = '1s'; -- replacing a function locks no table; bounded all the same

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
  if uid is null or session_claim is null
     or coalesce(nullif(current_setting('request.jwt.claim.role', true), ''), claims ->> 'role') = 'service_role' then
    return uid;  -- no user, a token the project's Auth did not issue, or trusted server code
  end if;
  if session_claim !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
    raise exception using errcode = 'PT401', message = 'the token''s session_id is not an Auth session id',
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
  'The calling user''s id as every policy and access helper reads it. A token with session_id (issued by the project''s Auth) must name a live session whose device is not revoked, else PT401 (hint session_revoked / session_required); a verified token without session_id passes to RLS unchanged; null without a user. Policies call it once per statement. SECURITY DEFINER to read auth.sessions and devices.';
revoke execute on function private.caller_id() from public, anon;
grant execute on function private.caller_id() to authenticated;

reset lock_timeout;
