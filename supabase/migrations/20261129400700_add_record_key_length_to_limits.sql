-- The record key's length joins the other limits in private.limits(), the one place they are
-- defined (issue 10): the client library and the Edge Function read it from the generated
-- limits.ts files. The column's check constraint now reads it too. push_logs' one-pass validation
-- spells the pattern out for speed (20261129400300); tests/sql-compaction.test.ts checks that it and
-- this limit agree.

alter type private.limit_set add attribute max_record_key_chars int;

create or replace function private.limits() returns private.limit_set
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
    1000,       -- max_pull_count
    8388608,    -- max_pull_bytes: 8 MiB of log fields per pull page (at least one log)
    64          -- max_record_key_chars: sync_logs.record_key, unpadded base64url, 1 .. this
  )::private.limit_set
$$;
comment on function private.limits() is
  'The one place where the limits of the SQL API are defined (see docs/sql-api.md).';

alter table public.sync_logs drop constraint sync_logs_record_key_check;
alter table public.sync_logs add constraint sync_logs_record_key_check
  check (record_key ~ '^[A-Za-z0-9_-]+$' and length(record_key) <= (private.limits()).max_record_key_chars);
