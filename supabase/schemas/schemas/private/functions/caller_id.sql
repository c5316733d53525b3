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
  checked text;
begin
  if uid is null or session_claim is null
     or coalesce(nullif(current_setting('request.jwt.claim.role', true), ''), claims ->> 'role') = 'service_role' then
    return uid;  -- no user, a token the project's Auth did not issue, or trusted server code
  end if;
  -- Checked once per transaction (issue 25, item 2): PostgREST runs its pre-request hook
  -- (check_request), then the request's statement, whose functions and policies call this again,
  -- in one transaction. The first passing check leaves "<uid> <session_id>" in a transaction-local
  -- setting; a later call with the same uid and session_id reads it instead of auth.sessions and
  -- devices. Why that is safe:
  --   * SET LOCAL semantics: the setting ends with the transaction (and with a rolled-back
  --     subtransaction), so a pooled connection's next request, whoever sends it, starts unchecked.
  --   * Keyed by uid and session_id: claims switched inside a transaction (another user, another
  --     session, set_config or SET LOCAL ROLE in tests and in Realtime's probes) never match
  --     another's verdict. Only a passing check is kept; a failing one raises.
  --   * Who could write it: PostgREST sets only its own settings (request.*, role, search_path)
  --     and exposes no function that calls set_config (pg_catalog is not an exposed schema, and
  --     no function of ours takes a setting's name). A raw SQL connection as authenticated could
  --     write it, but such a connection can already set request.jwt.claims to any user without
  --     session_id, which passes this check by design (issue 24): nothing new is trusted.
  --   * Same verdict as a new check within the transaction: now() is the transaction's start, so
  --     not_after decides alike; a device revoked inside the transaction (revoke_device, any
  --     update of devices.revoked_at) clears the setting by a trigger on devices. A revocation
  --     committed by another transaction after this transaction's first check is seen by the
  --     next request (before, a request whose hook passed just before it could still commit too).
  checked := current_setting('haex_sync.checked_session', true);
  if checked is not null and checked = uid::text || ' ' || session_claim then
    return uid;
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
  perform set_config('haex_sync.checked_session', uid::text || ' ' || session_claim, true);
  return uid;
end
$function$;

comment on function "private"."caller_id"() is 'The calling user''s id as every policy and access helper reads it. A token with session_id (issued by the project''s Auth) must name a live session whose device is not revoked, else PT401 (hint session_revoked / session_required); a verified token without session_id passes to RLS unchanged; null without a user. The session is looked up once per transaction: a passing check is kept in the transaction-local setting haex_sync.checked_session, keyed by uid and session_id (issue 25; the reasoning is in the body). SECURITY DEFINER to read auth.sessions and devices.';

revoke all on function "private"."caller_id"() from public;

grant execute on function "private"."caller_id"() to "authenticated", "postgres";
