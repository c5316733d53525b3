-- Takes public.sync_logs out of Supabase Realtime's publication (added by
-- 20261129000200_publish_sync_logs_to_realtime.sql; that was a mistake).
--
-- Hosted Realtime delivers DELETE changes of `postgres_changes` without RLS (a deleted row can no
-- longer be checked against a policy), carrying the old row's primary key (vault_id, sequence) to
-- every subscriber of the table: each compaction told every signed-in subscriber which logs of which
-- vaults it removed. The private Broadcast topic `vault:<id>` (pokes sent by push_logs' trigger,
-- authorised by RLS on realtime.messages) already tells a vault's devices when to pull; an app that
-- subscribed to `postgres_changes` on sync_logs subscribes to that topic instead (docs/realtime.md).
--
-- Guarded, so that it also runs where the table is not in the publication (or the publication is
-- absent): ALTER PUBLICATION ... DROP TABLE takes only a SHARE UPDATE EXCLUSIVE lock on sync_logs,
-- which pushes (ROW EXCLUSIVE) do not conflict with.

set lock_timeout = '1s';

do $$
begin
  if exists (select from pg_catalog.pg_publication_tables
             where pubname = 'supabase_realtime' and schemaname = 'public' and tablename = 'sync_logs') then
    alter publication supabase_realtime drop table public.sync_logs;
  end if;
end
$$;

reset lock_timeout;
