-- Every policy reads the caller through private.caller_id(), so the session check of
-- 20261203100200 applies to every table read and to Realtime's channel authorization (issue 19).
-- The policies keep their names (later migrations drop and re-create them by name).
--
-- Each policy stays one initplan, evaluated once per statement, and only once the scan found a row:
-- a read that matches no row never calls it (PostgreSQL does not gate a scan on an RLS conjunct
-- without columns; tried, tests/devices-sql.test.ts). So that such a read still answers 401 and not
-- 200 [], PostgREST runs the same check before every request (20261203100400).

set lock_timeout = '1s'; -- altering a policy takes a short lock on its table; never wait behind a long transaction

alter policy "Owners can read their vaults" on public.vaults
  using (owner_id = (select private.caller_id()));

alter policy "Users can read their own vault keys" on public.vault_keys
  using (user_id = (select private.caller_id()));

alter policy "Owners can read their sync logs" on public.sync_logs
  using (author_id = (select private.caller_id()));

-- Realtime probes this policy when a private channel is joined (20261129100100): a revoked session
-- now gets PT401 there, and the join is refused.
alter policy "Owners can receive their vault broadcasts" on realtime.messages
  using (
    realtime.messages.extension = 'broadcast'
    and exists (
      select 1 from public.vaults v
      where v.owner_id = (select private.caller_id())
        and 'vault:' || v.id::text = (select realtime.topic())
    )
  );

reset lock_timeout;
