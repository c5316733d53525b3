-- compact_logs(vault_id): removes the logs of a vault that a newer log of the same record key
-- supersedes, without reading any log's content.
--
-- Superseded: the log has a record_key, and the vault has another log with the same record_key
-- that is newer by (haex_timestamp compared bytewise, i.e. C collation; then sequence): of equal
-- timestamps the higher sequence survives. Exactly one log per key is NOT superseded, the newest,
-- so the live state of every key stays; logs without a record key are never removed.
--
-- Safety under concurrency:
--   * Compactions of one vault are serialised by a transaction-level advisory lock.
--   * A log is deleted only if it is not the newest of its key in the deleting statement's snapshot.
--     The newest log of a key (over ALL committed logs, including those of pushes that commit while
--     compaction runs) is never deleted: any log deleted has a newer one, and by induction the
--     newest of all is never "not the newest". Logs that commit later can only supersede more.
--   * Only logs at or below the watermark W = the vault's last_sequence at the start are deleted,
--     and the same transaction raises vaults.compacted_through to the highest sequence it scanned
--     (<= W). Readers see the deletions and the new compacted_through together (one commit), so a
--     pulled gap at or below compacted_through is compacted, never lost.
--   * The push lock (the vaults row) is NOT held while deleting: pushes only insert new rows, which
--     never conflict with deletions. It is taken once, by the final counter update, and held from
--     there to commit only (microseconds). (One exception, a retried push of an id compaction is
--     deleting at that very moment, would wait for the compaction; PostgreSQL detects the
--     deadlock of that wait with the final update within deadlock_timeout and cancels one of the
--     two, which the client retries.)
--   * Batches of 5,000 logs in sequence order; each probes the record-key index once per keyed log
--     (backward scan, limit 1) for the newest of its key.
--
-- Bounded time per call: PostgREST runs a call in one transaction under `authenticated`'s
-- statement_timeout (8 s on Supabase). compact_logs stops after the batch during which ~2 s have
-- passed and answers complete: false; the next call resumes (the compacted prefix now holds only
-- survivors, so re-scanning it is cheap). Answer: { removed, remaining, complete }: logs removed by
-- this call, live logs of the vault afterwards, and whether every log up to W was examined.
--
-- Counters: compacted_logs grows and bytes shrinks by what was removed; keyed_logs_since_compaction
-- drops by the keyed logs that existed at the start (those pushed meanwhile still count) once a
-- call is complete.

create function private.compact_logs(p_vault_id uuid)
returns jsonb
language plpgsql volatile
set search_path = ''
as $$
declare
  uid uuid := private.require_uid();
  batch_size constant int := 5000;
  time_budget constant interval := interval '2 seconds';
  started timestamptz := clock_timestamp();
  watermark bigint;
  keyed_at_start bigint;
  scanned_through bigint := 0;
  batch_end bigint;
  batch_removed bigint;
  batch_bytes bigint;
  removed bigint := 0;
  removed_bytes bigint := 0;
  complete boolean := false;
  live bigint;
begin
  perform private.require_arg('vault_id', p_vault_id);
  -- Serialise compactions of this vault (never pushes); the first key is a namespace of our own.
  perform pg_catalog.pg_advisory_xact_lock(1751216248, pg_catalog.hashtext(p_vault_id::text));

  -- No FOR UPDATE: reading the counters does not take the push lock.
  select v.last_sequence, v.keyed_logs_since_compaction into watermark, keyed_at_start
  from public.vaults v
  where v.id = p_vault_id and v.owner_id = uid;
  if not found then
    raise exception using errcode = 'PT404', message = 'vault not found', detail = 'vault_id';
  end if;

  loop
    select max(s.sequence) into batch_end
    from (select l.sequence from public.sync_logs l
          where l.vault_id = p_vault_id and l.sequence > scanned_through and l.sequence <= watermark
          order by l.sequence
          limit batch_size) s;
    if batch_end is null then
      complete := true;
      exit;
    end if;

    with gone as (
      delete from public.sync_logs d
      where d.vault_id = p_vault_id
        and d.sequence > scanned_through and d.sequence <= batch_end
        and d.record_key is not null
        and d.sequence <> (select n.sequence from public.sync_logs n
                           where n.vault_id = p_vault_id and n.record_key = d.record_key
                           order by n.haex_timestamp collate "C" desc, n.sequence desc
                           limit 1)
      returning octet_length(d.encrypted_data) + octet_length(d.nonce) + octet_length(d.haex_timestamp) as bytes
    )
    select count(*), coalesce(sum(g.bytes), 0) into batch_removed, batch_bytes from gone g;
    removed := removed + batch_removed;
    removed_bytes := removed_bytes + batch_bytes;
    scanned_through := batch_end;
    exit when clock_timestamp() - started > time_budget;
  end loop;

  -- The push lock, from here to commit only.
  update public.vaults v
  set compacted_through = greatest(v.compacted_through, scanned_through),
      compacted_logs = v.compacted_logs + removed,
      bytes = v.bytes - removed_bytes,
      keyed_logs_since_compaction = case when complete then greatest(0, v.keyed_logs_since_compaction - keyed_at_start)
                                         else v.keyed_logs_since_compaction end
  where v.id = p_vault_id
  returning v.last_sequence - v.compacted_logs into live;

  return jsonb_build_object('removed', removed, 'remaining', live, 'complete', complete);
end
$$;
comment on function private.compact_logs(uuid) is 'Implementation of public.compact_logs.';
revoke execute on function private.compact_logs(uuid) from public, anon, authenticated;

create function public.compact_logs(vault_id uuid)
returns jsonb
language sql volatile
security definer -- deletes from sync_logs and updates vaults, on which API roles have no write grants
set search_path = ''
as $$
  select private.compact_logs(compact_logs.vault_id)
$$;
comment on function public.compact_logs(uuid) is
  'API: removes the caller''s superseded logs (same record_key, older by haex_timestamp bytewise then sequence), never the newest of a key nor logs without a record key; answers { removed, remaining, complete } (call again while complete is false). SECURITY DEFINER because sync_logs and vaults have no write grants; ownership checked against auth.uid().';
revoke execute on function public.compact_logs(uuid) from public, anon;
grant execute on function public.compact_logs(uuid) to authenticated;
