-- A still-valid token of a deleted user gets 401 PT401 from every function that needs a user,
-- instead of a foreign-key violation (23503) that the HTTP layer could only answer with 500.
--
-- Why: the account is gone (auth.users row deleted, its vaults cascaded away) but its JWT stays
-- valid until it expires. create_vault then failed on vaults.owner_id's foreign key, and the old
-- error mapping answered that with a retryable 502: the client retried six times.
-- private.require_uid() is what the SECURITY DEFINER functions call first; it now also looks the
-- user up (one primary-key probe; push_logs, the hot path, inlines its own uid check and needs none:
-- a deleted user has no vault left, so a push answers PT404).

create or replace function private.require_uid() returns uuid
language plpgsql stable
set search_path = ''
as $$
declare
  uid uuid := auth.uid();
begin
  if uid is null then
    raise exception using errcode = 'PT401', message = 'a signed-in user is required', detail = 'authorization';
  end if;
  if not exists (select 1 from auth.users u where u.id = uid) then
    raise exception using errcode = 'PT401', message = 'the token''s user does not exist (deleted account)',
      detail = 'authorization';
  end if;
  return uid;
end
$$;
comment on function private.require_uid() is
  'auth.uid() of an existing user, or PT401 when the request has no user or the user was deleted. Used by the SECURITY DEFINER functions.';
