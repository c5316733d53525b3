create or replace function private.compact_logs (
  p_vault_id  uuid,
  time_budget interval default '00:00:02'::interval,
  batch_size  integer  default 5000
)
  returns jsonb
  language plpgsql
  set search_path to ''
  AS $function$
declare
  started timestamptz := clock_timestamp();
  batch_started timestamptz;
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
  -- Compaction deletes logs: writers and above (a reader PT403, a non-member PT404).
  perform private.require_vault_role(p_vault_id, 'writer');
  if batch_size is null or batch_size < 1 or batch_size > 100000 then
    raise exception using errcode = 'PT400', message = 'batch_size must be 1 to 100000', detail = 'batch_size';
  end if;

  -- No FOR UPDATE: reading the counters does not take the push lock.
  select v.last_sequence, v.compacted_through, v.keyed_logs_since_compaction, v.last_sequence - v.compacted_logs
  into watermark, cursor_at, keyed_at_start, live
  from public.vaults v
  where v.id = p_vault_id;
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
    batch_started := clock_timestamp();
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
      -- Per record key AND author (issue 24): one author's log never supersedes another's, so a
      -- member writing a far-future haex_timestamp under someone else's key erases nothing of theirs.
      select distinct l.record_key, l.author_id
      from public.sync_logs l
      where l.vault_id = p_vault_id and l.sequence > cursor_at and l.sequence <= batch_end
        and l.record_key is not null
    ),
    newest as (
      -- One backward probe of the record-key index per key and author: that author's newest log of
      -- the key over all committed logs (in a single-author vault the first entry it meets).
      select k.record_key, k.author_id,
             (select n.sequence from public.sync_logs n
              where n.vault_id = p_vault_id and n.record_key = k.record_key
                and n.author_id is not distinct from k.author_id
              order by n.haex_timestamp collate "C" desc, n.sequence desc
              limit 1) as sequence
      from batch_keys k
    ),
    gone as (
      delete from public.sync_logs d
      using newest w
      where d.vault_id = p_vault_id and d.record_key = w.record_key
        and d.author_id is not distinct from w.author_id
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
    -- Stop unless one more batch at this one's pace still ends within the budget.
    exit when (clock_timestamp() - started) + (clock_timestamp() - batch_started) > time_budget;
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
$function$;

comment on function "private"."compact_logs"(uuid, interval, integer) is 'Implementation of public.compact_logs: one resumable step of compaction from vaults.compacted_through (see the migration header).';

revoke all on function "private"."compact_logs"(uuid, interval, integer) from public;

grant execute on function "private"."compact_logs"(uuid, interval, integer) to "postgres";
