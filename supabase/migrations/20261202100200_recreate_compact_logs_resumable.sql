-- compact_logs becomes resumable, incremental and never waits for another compaction (issue 16
-- item 1), and leaves each removed log's id behind (item 3).
--
-- Before: every call rescanned the vault from sequence 0 and probed every survivor again; on a vault
-- with more live keys than one call can examine in its time budget (~1M distinct cells) it never
-- answered complete. A second call queued on the advisory lock for the whole first call.
--
-- The cursor: vaults.compacted_through. A call scans the logs after it, in sequence order and in
-- batches, and raises it to the end of each batch it finished, in the transaction of the batch's
-- deletions (as before, a pulled gap at or below compacted_through is compacted, above it a lost
-- log). The next call continues there; a call that reaches the vault's last_sequence (read when it
-- starts) is complete. A pass after new pushes scans only the new logs.
--
-- What a batch (cursor, batch_end] does: for every record key that occurs in it, delete every log of
-- that key at or below batch_end except the key's newest (by haex_timestamp bytewise, then
-- sequence, over all committed logs). Invariant at cursor c: a keyed log at or below c is the newest
-- of its key, or its key has a log above c (which a later batch visits, deleting it then). A batch
-- keeps it: keys in the batch keep only their newest at or below batch_end; a key not in the batch
-- with a log at or below c and not the newest has a newer log above c, hence above batch_end. At
-- complete (c = last_sequence) every key has exactly its newest log left. The work of a pass is
-- proportional to the logs pushed since the last pass (one newest-probe per distinct key of a batch
-- and the index range of that key, usually 1-2 entries), not to the survivors.
--
-- Logs compacted by the old function, before this migration, satisfy the invariant at its
-- compacted_through too (each was checked against the newest of its key, and every later log has a
-- higher sequence), so existing vaults continue where they are.
--
-- Concurrency:
--   * One compaction per vault: pg_try_advisory_xact_lock; a second call answers at once
--     { status: 'busy', complete: false, removed: 0 } and does not wait.
--   * Only the newest of a key in the deleting statement's snapshot is kept; logs committed later
--     can only supersede more, so the newest of all is never deleted (as before).
--   * Pushes only insert new rows above the cursor; the push lock (the vault row) is taken once, by
--     the final counter update, and held to commit: pushes wait at most for that update and the
--     commit. (A retried push of an id being deleted by this very call waits for it; see
--     20261129400400_create_compact_logs.sql for that deadlock case.)
--   * Each removed log's (vault_id, id, sequence) goes to private.compacted_log_ids in the same
--     statement as its deletion.
--
-- Answer: { status, removed, remaining, complete, compacted_through }:
--   status 'complete'      this call finished the pass (complete: true)
--          'more'          stopped at the time budget: call again (complete: false)
--          'nothing_to_do' nothing was pushed since the last complete pass (complete: true)
--          'busy'          another compaction of this vault is running; retry later (complete: false)
-- removed: logs this call removed; remaining: live logs of the vault afterwards.
-- The lease of private.compaction_leases is extended by a call that stops early and dropped by one
-- that completes (or finds nothing to do).

set lock_timeout = '1s'; -- replacing a function locks nothing a push holds; bounded all the same

drop function private.compact_logs(uuid);

create function private.compact_logs(
  p_vault_id uuid,
  time_budget interval default interval '2 seconds',
  batch_size int default 5000
)
returns jsonb
language plpgsql volatile
set search_path = ''
as $$
declare
  uid uuid := private.require_uid();
  started timestamptz := clock_timestamp();
  watermark bigint;
  cursor_at bigint;
  keyed_at_start bigint;
  batch_end bigint;
  batch_removed bigint;
  batch_bytes bigint;
  removed bigint := 0;
  removed_bytes bigint := 0;
  complete boolean := false;
  live bigint;
begin
  perform private.require_arg('vault_id', p_vault_id);
  if batch_size is null or batch_size < 1 or batch_size > 100000 then
    raise exception using errcode = 'PT400', message = 'batch_size must be 1 to 100000', detail = 'batch_size';
  end if;

  -- No FOR UPDATE: reading the counters does not take the push lock.
  select v.last_sequence, v.compacted_through, v.keyed_logs_since_compaction, v.last_sequence - v.compacted_logs
  into watermark, cursor_at, keyed_at_start, live
  from public.vaults v
  where v.id = p_vault_id and v.owner_id = uid;
  if not found then
    raise exception using errcode = 'PT404', message = 'vault not found', detail = 'vault_id';
  end if;

  -- One compaction per vault; the first key is a namespace of our own. Never wait for it.
  if not pg_catalog.pg_try_advisory_xact_lock(1751216248, pg_catalog.hashtext(p_vault_id::text)) then
    return jsonb_build_object('status', 'busy', 'removed', 0, 'remaining', live, 'complete', false,
                              'compacted_through', cursor_at);
  end if;
  -- Read again under the lock: the compaction that held it may have moved the cursor.
  select v.last_sequence, v.compacted_through, v.keyed_logs_since_compaction
  into watermark, cursor_at, keyed_at_start
  from public.vaults v
  where v.id = p_vault_id;

  if cursor_at >= watermark then
    delete from private.compaction_leases l where l.vault_id = p_vault_id;
    -- Every keyed log has been examined: the due-heuristic's counter starts again (a push that
    -- committed since the read above would have raised last_sequence: then leave it).
    update public.vaults v set keyed_logs_since_compaction = 0
    where v.id = p_vault_id and v.keyed_logs_since_compaction <> 0 and v.last_sequence <= cursor_at;
    return jsonb_build_object('status', 'nothing_to_do', 'removed', 0, 'remaining', live, 'complete', true,
                              'compacted_through', cursor_at);
  end if;

  loop
    select max(s.sequence) into batch_end
    from (select l.sequence from public.sync_logs l
          where l.vault_id = p_vault_id and l.sequence > cursor_at and l.sequence <= watermark
          order by l.sequence
          limit batch_size) s;
    if batch_end is null then
      complete := true;
      exit;
    end if;

    with batch_keys as (
      select distinct l.record_key
      from public.sync_logs l
      where l.vault_id = p_vault_id and l.sequence > cursor_at and l.sequence <= batch_end
        and l.record_key is not null
    ),
    newest as (
      -- One backward probe of the record-key index per key: its newest log over all committed logs.
      select k.record_key,
             (select n.sequence from public.sync_logs n
              where n.vault_id = p_vault_id and n.record_key = k.record_key
              order by n.haex_timestamp collate "C" desc, n.sequence desc
              limit 1) as sequence
      from batch_keys k
    ),
    gone as (
      delete from public.sync_logs d
      using newest w
      where d.vault_id = p_vault_id and d.record_key = w.record_key
        and d.sequence <= batch_end and d.sequence <> w.sequence
      returning d.id, d.sequence,
                octet_length(d.encrypted_data) + octet_length(d.nonce) + octet_length(d.haex_timestamp) as bytes
    ),
    remembered as (
      insert into private.compacted_log_ids (vault_id, id, sequence)
      select p_vault_id, g.id, g.sequence from gone g
    )
    select count(*), coalesce(sum(g.bytes), 0) into batch_removed, batch_bytes from gone g;
    removed := removed + batch_removed;
    removed_bytes := removed_bytes + batch_bytes;
    cursor_at := batch_end;
    exit when clock_timestamp() - started > time_budget;
  end loop;
  if not complete and cursor_at >= watermark then
    complete := true;
  end if;

  -- The push lock, from here to commit only.
  update public.vaults v
  set compacted_through = greatest(v.compacted_through, cursor_at),
      compacted_logs = v.compacted_logs + removed,
      bytes = v.bytes - removed_bytes,
      keyed_logs_since_compaction = case when complete then greatest(0, v.keyed_logs_since_compaction - keyed_at_start)
                                         else v.keyed_logs_since_compaction end
  where v.id = p_vault_id
  returning v.last_sequence - v.compacted_logs into live;

  if complete then
    delete from private.compaction_leases l where l.vault_id = p_vault_id;
  else
    update private.compaction_leases l set expires_at = greatest(l.expires_at, now() + interval '2 minutes')
    where l.vault_id = p_vault_id;
  end if;

  return jsonb_build_object('status', case when complete then 'complete' else 'more' end,
                            'removed', removed, 'remaining', live, 'complete', complete,
                            'compacted_through', cursor_at);
end
$$;
comment on function private.compact_logs(uuid, interval, int) is
  'Implementation of public.compact_logs: one resumable step of compaction from vaults.compacted_through (see the migration header).';
revoke execute on function private.compact_logs(uuid, interval, int) from public, anon, authenticated;

create or replace function public.compact_logs(vault_id uuid)
returns jsonb
language sql volatile
security definer -- deletes from sync_logs and updates vaults, on which API roles have no write grants
set search_path = ''
as $$
  select private.compact_logs(compact_logs.vault_id)
$$;
comment on function public.compact_logs(uuid) is
  'API: one step (about 2 s at most) of removing the caller''s superseded logs (same record_key, older by haex_timestamp bytewise then sequence), never the newest of a key nor logs without a record key; resumes where the last call stopped; answers { status: complete | more | nothing_to_do | busy, removed, remaining, complete, compacted_through } (call again while status is more; later when busy). SECURITY DEFINER because sync_logs and vaults have no write grants; ownership checked against auth.uid().';
revoke execute on function public.compact_logs(uuid) from public, anon;
grant execute on function public.compact_logs(uuid) to authenticated;

reset lock_timeout;
