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
-- No foreign key to public.vaults, on purpose: compaction inserts here while pushes run, and the
-- key check would take FOR KEY SHARE on the vault row, which conflicts with the FOR UPDATE push_logs
-- takes: every push would wait for the whole compaction step (measured: 587 ms of an 860 ms step).
-- The ids of a deleted vault go with it through an AFTER DELETE trigger on vaults instead (creating
-- it takes SHARE ROW EXCLUSIVE on vaults for an instant, bounded by lock_timeout).

set lock_timeout = '1s';

create table private.compacted_log_ids (
  vault_id uuid not null,
  id uuid not null,
  sequence bigint not null,
  primary key (vault_id, id)
);

comment on table private.compacted_log_ids is
  'Ids (and first sequences) of logs removed by compact_logs: push_logs answers a re-push of one as a duplicate.';

-- Nobody but the owner (the migration role) touches it: no grants, RLS on without policies.
alter table private.compacted_log_ids enable row level security;
revoke all on table private.compacted_log_ids from public, anon, authenticated;

create function private.forget_compacted_log_ids() returns trigger
language plpgsql volatile
security definer -- runs as the deleter, e.g. supabase_auth_admin deleting a user (cascade), who has no grant on private
set search_path = ''
as $$
begin
  delete from private.compacted_log_ids c where c.vault_id = old.id;
  return null;
end
$$;
comment on function private.forget_compacted_log_ids() is
  'AFTER DELETE trigger of public.vaults: drops the compacted ids of the deleted vault.';
revoke execute on function private.forget_compacted_log_ids() from public, anon, authenticated;

create trigger forget_compacted_log_ids
  after delete on public.vaults
  for each row execute function private.forget_compacted_log_ids();

reset lock_timeout;
