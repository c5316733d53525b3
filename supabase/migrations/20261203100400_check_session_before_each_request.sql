-- PostgREST checks the caller's session before every request (issue 19), through its pre-request
-- hook (`db-pre-request`, set on the role it connects as, as Supabase documents for hosted projects).
--
-- Why, on top of the policies and functions: a policy's check runs when the scan meets a row, so a
-- read that matches nothing (a vault id that does not exist, a cursor past the end) answered a
-- revoked session 200 [] instead of 401. The hook makes every PostgREST request of a revoked or
-- signed-out session fail with PT401 before its statement runs; the policies and functions stay the
-- check that cannot be bypassed (Realtime, direct connections).
--
-- On hosted Supabase this replaces a pre-request hook the project set itself: call it from yours
-- instead (docs/devices.md).

set lock_timeout = '1s'; -- replacing functions locks no table; bounded all the same

create function private.check_request() returns void
language plpgsql stable
security definer -- so that anon and service_role need EXECUTE on this function only, not on caller_id
set search_path = ''
as $$
begin
  perform private.caller_id(); -- raises PT401 for an ended session; nothing else to do
end
$$;
comment on function private.check_request() is
  'PostgREST''s db-pre-request hook: PT401 (hint session_revoked / session_required) before any request of an ended session.';
revoke execute on function private.check_request() from public;
-- PostgREST runs it as the request's role, every role it switches to: anon (no user, nothing to
-- check) and service_role too. It takes no argument and answers nothing, so USAGE on private and
-- EXECUTE on exactly this function give anon nothing else (the default privileges of private
-- keep every other function from PUBLIC).
grant usage on schema private to anon, service_role;
grant execute on function private.check_request() to anon, authenticated, service_role;

alter role authenticator set pgrst.db_pre_request = 'private.check_request';
notify pgrst, 'reload config';

reset lock_timeout;
