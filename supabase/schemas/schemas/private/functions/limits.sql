create or replace function private.limits()
  returns private.limit_set
  language sql
  immutable
  parallel safe
  set search_path to ''
  AS $function$
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
$function$;

comment on function "private"."limits"() is 'The one place where the limits of the SQL API are defined (see docs/sql-api.md).';

revoke all on function "private"."limits"() from public;

grant execute on function "private"."limits"() to "authenticated", "postgres";
