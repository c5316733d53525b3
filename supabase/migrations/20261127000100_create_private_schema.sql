-- The `private` schema: internals of haex-sync (limits, error helpers) that PostgREST does not
-- expose. Nothing here is callable through the API; the public functions use it.
--
-- Privileges: PostgreSQL grants EXECUTE on every new function to PUBLIC, so we revoke it here by
-- default and per function. The one exception is made in the pull_logs migration: the inlinable
-- SECURITY INVOKER pull_logs runs its argument check as the caller, so `authenticated` gets USAGE on
-- this schema and EXECUTE on exactly `private.limits()` and `private.pull_page_size(...)`, which
-- only return public constants or raise an error about the caller's own arguments.

create schema private;
comment on schema private is
  'haex-sync internals (limits, error helpers). Not exposed by PostgREST; not usable by anon.';

revoke all on schema private from public, anon, authenticated;
alter default privileges in schema private revoke execute on functions from public;
alter default privileges in schema private revoke all on tables from public;

-- Limits -----------------------------------------------------------------------------------------
-- Every limit of the SQL API is defined here and only here. docs/sql-api.md lists them.
create type private.limit_set as (
  max_logs_per_push int,                -- logs per push_logs call: 1 .. this
  max_log_data_chars int,               -- encrypted_data of one log (base64 characters)
  max_push_data_chars bigint,           -- encrypted_data of all logs of one push, summed
  max_log_nonce_chars int,              -- vault_logs.nonce: 1 .. this
  max_haex_timestamp_chars int,         -- vault_logs.haex_timestamp: 1 .. this
  max_device_id_chars int,              -- vault_logs.device_id: 0 .. this, or absent/null
  max_encrypted_vault_key_chars int,    -- vault_keys.encrypted_vault_key (base64): 1 .. this
  max_salt_chars int,                   -- vault_keys.salt (base64): 1 .. this
  max_key_nonce_chars int,              -- vault_keys.nonce (base64): 1 .. this
  max_pull_count int                    -- pull_logs max_count: 1 .. this
);

create function private.limits() returns private.limit_set
language sql immutable parallel safe
set search_path = ''
as $$
  select row(
    1000,       -- max_logs_per_push
    524288,     -- max_log_data_chars: 512 KiB
    16777216,   -- max_push_data_chars: 16 MiB
    64,         -- max_log_nonce_chars
    128,        -- max_haex_timestamp_chars
    128,        -- max_device_id_chars
    4096,       -- max_encrypted_vault_key_chars
    256,        -- max_salt_chars
    64,         -- max_key_nonce_chars
    1000        -- max_pull_count
  )::private.limit_set
$$;
comment on function private.limits() is
  'The one place where the limits of the SQL API are defined (see docs/sql-api.md).';
revoke execute on function private.limits() from public, anon, authenticated;

-- Errors -----------------------------------------------------------------------------------------
-- PostgREST 12 turns SQLSTATE PTxyz into HTTP status xyz, so every error we raise on purpose uses
-- such a code (never P0001, which PostgREST answers with 400/500). `detail` carries the field path
-- (e.g. `logs[3].nonce`) for the HTTP layer.

-- The caller's user id (the JWT `sub`), or PT401 when the request carries none.
create function private.require_uid() returns uuid
language plpgsql stable
set search_path = ''
as $$
declare
  uid uuid := auth.uid();
begin
  if uid is null then
    raise exception using errcode = 'PT401', message = 'a signed-in user is required', detail = 'authorization';
  end if;
  return uid;
end
$$;
comment on function private.require_uid() is
  'auth.uid(), or PT401 when the request has no user. Used by the SECURITY DEFINER functions.';
revoke execute on function private.require_uid() from public, anon, authenticated;

-- True when `value` is non-empty standard base64 with padding (RFC 4648 section 4), as produced
-- by btoa() or Buffer#toString('base64').
create function private.is_base64(value text) returns boolean
language sql immutable parallel safe
set search_path = ''
as $$
  select length(value) > 0 and length(value) % 4 = 0 and value ~ '^[A-Za-z0-9+/]*={0,2}$'
$$;
comment on function private.is_base64(text) is
  'Non-empty, padded standard base64 (RFC 4648 section 4)?';
revoke execute on function private.is_base64(text) from public, anon, authenticated;

-- Checks one vault key field: non-empty base64 of at most max_chars characters; PT400 naming it.
create function private.check_key_field(field text, value text, max_chars int) returns void
language plpgsql stable
set search_path = ''
as $$
begin
  if value is null then
    raise exception using errcode = 'PT400', message = format('%s must not be null', field), detail = field;
  end if;
  if length(value) < 1 or length(value) > max_chars then
    raise exception using errcode = 'PT400',
      message = format('%s must be 1 to %s characters', field, max_chars), detail = field;
  end if;
  if not private.is_base64(value) then
    raise exception using errcode = 'PT400', message = format('%s must be base64', field), detail = field;
  end if;
end
$$;
comment on function private.check_key_field(text, text, int) is
  'Validates one vault key field (non-empty base64, length limit) or raises PT400 naming it.';
revoke execute on function private.check_key_field(text, text, int) from public, anon, authenticated;

-- Checks that a uuid argument is not null; PT400 naming it.
create function private.require_arg(field text, value anyelement) returns anyelement
language plpgsql stable
set search_path = ''
as $$
begin
  if value is null then
    raise exception using errcode = 'PT400', message = format('%s must not be null', field), detail = field;
  end if;
  return value;
end
$$;
comment on function private.require_arg(text, anyelement) is
  'Returns `value`, or raises PT400 naming `field` when it is null.';
revoke execute on function private.require_arg(text, anyelement) from public, anon, authenticated;
