-- sync_logs.record_key: an opaque key naming WHAT a log overwrites, so that compaction
-- (compact_logs) can drop logs a newer log of the same key supersedes, without reading them.
--
-- The client derives it as base64url(HMAC-SHA-256(K, change key)) under a key K derived from the
-- vault key (client/src/record-key.ts), so the server learns only which logs share a key, never
-- what the key is. It is bound into the log's AAD (haex-sync/log/v2), so the server cannot move a
-- log to another key. NULL: the log is never compacted (the app opted out, or a v1 client).
--
-- Format: unpadded base64url (RFC 4648 section 5), 1..64 characters. push_logs validates it and
-- names the field (logs[i].record_key); the check constraint only guards writes that bypass it.

alter table public.sync_logs add column record_key text null
  constraint sync_logs_record_key_check check (record_key ~ '^[A-Za-z0-9_-]{1,64}$');

comment on column public.sync_logs.record_key is
  'Opaque base64url key (1..64 chars) of what the log overwrites, or NULL (never compacted). Logs of one key: only the newest by (haex_timestamp bytewise, sequence) matters.';

-- "The newest log of a key" is the LAST entry of (vault_id, record_key) in this order, so
-- compact_logs finds it with one backward index probe per log, and clients' LWW order is exactly
-- this one: haex_timestamp bytewise (C collation), equal timestamps -> the higher sequence wins.
-- Partial: logs without a record key (never compacted) cost the index nothing.
create index sync_logs_vault_id_record_key_idx
  on public.sync_logs (vault_id, record_key, haex_timestamp collate "C", sequence)
  where record_key is not null;
