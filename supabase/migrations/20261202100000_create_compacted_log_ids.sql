-- private.compacted_log_ids: the id and first sequence of every log compaction removed, so that a
-- retried or replayed push of such an id is answered as a duplicate with its first sequence and is
-- never stored again (push_logs idempotence survives compaction; issue 16 item 3).
--
-- Why a table of its own and not a stub row in sync_logs: pull_logs reads sync_logs and would have
-- to skip stubs; kept here, pulls skip compacted logs by themselves (they are gone from sync_logs)
-- and the hot (vault_id, sequence) index keeps only live logs. push_logs consults this table only
-- for a vault that has been compacted at least once (vaults.compacted_logs > 0), with one probe of
-- the primary key per pushed id; docs/compaction.md gives the measured cost per compacted id.
--
-- Written only by private.compact_logs, in the transaction of its deletions (a reader sees a log
-- either in sync_logs or here, never in neither). Logs compacted before this migration left no id
-- behind (their re-push is stored again, as before): nothing can recover them.
--
-- A new, empty table: creating it and its foreign key locks public.vaults only for the instant of
-- the migration's commit (SHARE ROW EXCLUSIVE, no scan: the referencing table is empty).

set lock_timeout = '1s';

create table private.compacted_log_ids (
  vault_id uuid not null references public.vaults (id) on delete cascade,
  id uuid not null,
  sequence bigint not null,
  primary key (vault_id, id)
);

comment on table private.compacted_log_ids is
  'Ids (and first sequences) of logs removed by compact_logs: push_logs answers a re-push of one as a duplicate.';

revoke all on table private.compacted_log_ids from public, anon, authenticated;

reset lock_timeout;
