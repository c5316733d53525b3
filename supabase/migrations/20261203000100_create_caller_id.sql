-- private.caller_id(): the one place that says who is calling. Every access helper, policy and
-- function that needs the caller's user id reads it through this function, never auth.uid()
-- directly, so that a check about the caller (a live session: issue 19) is made in one place and
-- cannot be bypassed by a policy or function that forgot it.
--
-- Today it is auth.uid(). Policies call it as `(select private.caller_id())`, so it is evaluated
-- once per statement (an initplan), as `(select auth.uid())` was.

create function private.caller_id() returns uuid
language sql stable
set search_path = ''
as $$
  select auth.uid()
$$;
comment on function private.caller_id() is
  'The calling user''s id as every access helper reads it (today auth.uid()); policies call it once per statement.';
revoke execute on function private.caller_id() from public, anon;
-- Policies of `authenticated` evaluate it as the caller; service_role bypasses RLS and needs none.
grant execute on function private.caller_id() to authenticated;
