-- Compaction counters on public.vaults (see compact_logs):
--
-- compacted_through: how far compaction has run. compact_logs removes logs ONLY at or below it
--   (it raises it to the vault's last_sequence when it starts, in the same transaction as its
--   deletions). A pulling client treats a missing sequence <= compacted_through as compacted and
--   any other missing sequence as a lost log (SequenceGapError).
-- compacted_logs: logs removed by compaction in total, so that the live log count is
--   last_sequence - compacted_logs without a scan (sequences are still gap-free as assigned).
-- keyed_logs_since_compaction: logs with a record key pushed since the last compaction; push_logs
--   compares it with the live count to say when a compaction is due (compaction_due).

alter table public.vaults
  add column compacted_through bigint not null default 0 check (compacted_through >= 0),
  add column compacted_logs bigint not null default 0 check (compacted_logs >= 0),
  add column keyed_logs_since_compaction bigint not null default 0 check (keyed_logs_since_compaction >= 0);

comment on column public.vaults.compacted_through is
  'compact_logs removed logs only at or below this sequence; a gap in a pull at or below it is compacted, above it a lost log.';
comment on column public.vaults.compacted_logs is
  'Logs removed by compaction in total; live logs = last_sequence - compacted_logs.';
comment on column public.vaults.keyed_logs_since_compaction is
  'Logs with a record_key pushed since the last compaction (decides when compaction is due).';
