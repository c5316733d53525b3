-- private.caller_id() and private.check_request() as they were before issue 25 item 2 (main at a455284),
-- for tsx bench/profile-access.ts's "before" mode. Not a migration.
create or replace function private.caller_id()
  returns uuid
  language plpgsql
  stable
  security definer
  set search_path to ''
  AS $function$
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
$function$;
create or replace function private.check_request()
  returns void
  language plpgsql
  stable
  security definer
  set search_path to ''
  AS $function$
begin
  perform private.caller_id(); -- raises PT401 for an ended session; nothing else to do
end
$function$;
