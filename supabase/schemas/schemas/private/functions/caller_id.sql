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

comment on function "private"."caller_id"() is 'The calling user''s id as every policy and access helper reads it. A token with session_id (issued by the project''s Auth) must name a live session whose device is not revoked, else PT401 (hint session_revoked / session_required); a verified token without session_id passes to RLS unchanged; null without a user. Policies call it once per statement. SECURITY DEFINER to read auth.sessions and devices.';

revoke all on function "private"."caller_id"() from public;

grant execute on function "private"."caller_id"() to "authenticated", "postgres";
