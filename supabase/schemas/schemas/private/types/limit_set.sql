create type "private"."limit_set" as (
  "max_logs_per_push"             integer,
  "max_log_data_chars"            integer,
  "max_push_data_chars"           bigint,
  "max_log_nonce_chars"           integer,
  "max_haex_timestamp_chars"      integer,
  "max_device_id_chars"           integer,
  "max_encrypted_vault_key_chars" integer,
  "max_salt_chars"                integer,
  "max_key_nonce_chars"           integer,
  "max_pull_count"                integer,
  "max_pull_bytes"                integer,
  "max_record_key_chars"          integer
);

grant usage on type "private"."limit_set" to "postgres";
