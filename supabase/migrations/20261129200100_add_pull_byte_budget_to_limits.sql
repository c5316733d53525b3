-- A byte budget for pull pages, stated with the other limits in private.limits().
--
-- Pull pages were bounded by rows only: 1000 logs of up to 524,288 characters made a ~512 MiB
-- response. pull_logs (20261129200300) now ends a page once the logs before the next one reach
-- max_pull_bytes, counted as octet_length(encrypted_data) + octet_length(nonce) +
-- octet_length(haex_timestamp) + octet_length(device_id) per log, and always returns at least one
-- log (so a maximal log still moves). The worst page is therefore below
--   max_pull_bytes + one maximal log (524,608 bytes) + 1000 rows of JSON framing (< 2.5 MB)
-- which is under 16 MiB in every transport (docs/sql-api.md, "Limits").

alter type private.limit_set add attribute max_pull_bytes int;

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
    8388608     -- max_pull_bytes: 8 MiB of log fields per pull page (at least one log)
  )::private.limit_set
$$;
comment on function private.limits() is
  'The one place where the limits of the SQL API are defined (see docs/sql-api.md).';
