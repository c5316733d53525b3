-- pull_logs answers ONE page: one row holding the page's logs as an array and the page's state once.
--
-- Contract (docs/sql-api.md):
--   public.pull_logs(vault_id uuid, after_sequence bigint default 0, max_count int default 100)
--   returns table (logs public.sync_logs[], has_more boolean, next_sequence bigint,
--                  last_sequence bigint, compacted_through bigint)
--   * always exactly one row (supabase-js: `.rpc('pull_logs', args).single()` gives the page object);
--   * logs: the caller's logs with after_sequence < sequence <= last_sequence, ascending, at most
--     max_count (1..max_pull_count), ending once the logs before the next one reach max_pull_bytes
--     (private.limits()); at least one log when one exists after the cursor; `{}` (JSON `[]`) for a
--     page without logs. Each element is a whole sync_logs row: the table's own row type, so the
--     generated type is the table's exact Row type and a column added to sync_logs reaches the
--     client without touching this function.
--   * has_more (a log exists after this page: exact, never a guess from the count), next_sequence
--     (the cursor to send next: the page's last sequence when has_more, else last_sequence),
--     last_sequence and compacted_through (see 20261129400600): once per page, all read in the SAME
--     snapshot as the logs.
--   * errors unchanged: PT400 for a null or out-of-range argument, PT404 (detail vault_id) for a
--     vault that is absent, deleted or not readable by the caller, PT409 hint cursor_ahead.
--
-- What changed against 20261129400600 (the guarantees stay; only the shape and the page cut's plan):
--   * one row instead of one row per log with the state repeated, and no row of nulls for an empty
--     page: the page is aggregated (array_agg ... order by sequence), the state computed in the same
--     aggregate;
--   * the cut (max_count, byte budget) is ONE window pass (ROWS frame: row number and running byte sum)
--     whose boolean `in_page` feeds the aggregate; the former second window pass and the two
--     count(*) over () that materialized the page twice are gone. has_more = a read row is not in
--     the page (the max_count + 1st row, or the first row past the byte budget).
--   * why this shape: tsx bench/profile-pull.ts measured it against the per-row shape, a composite
--     (non-setof) in sql and plpgsql, and logs as json; docs/performance.md has the figures and the
--     EXPLAIN ANALYZE of each statement PostgREST sent.
-- Still `language sql stable`, SECURITY INVOKER and without a SET clause, so PostgreSQL inlines it into
-- PostgREST's statement (tests/sql-explain.test.ts); names are schema-qualified instead; RLS on
-- sync_logs and vaults applies as the caller. Access rules stay in the helpers it calls
-- (private.pull_vault_state, private.pull_compacted_through) and in the RLS policies.
-- The result type changes, so the function is dropped and created (grants again below); the drop
-- and create run in the migration's transaction, so no caller sees the function missing.

set lock_timeout = '1s'; -- dropping a function waits for no push or pull; bounded all the same

drop function public.pull_logs(uuid, bigint, int);

create function public.pull_logs(vault_id uuid, after_sequence bigint default 0, max_count int default 100)
returns table (logs public.sync_logs[], has_more boolean, next_sequence bigint, last_sequence bigint,
               compacted_through bigint)
language sql stable
as $$
  select coalesce(array_agg(p.log order by p.sequence) filter (where p.in_page), '{}'),
         coalesce(bool_or(not p.in_page), false),
         case when bool_or(not p.in_page) then max(p.sequence) filter (where p.in_page) else v.last_sequence end,
         v.last_sequence,
         v.compacted_through
  -- The vault's state, evaluated once (OFFSET 0 keeps the planner from copying the calls into every
  -- use): the argument and access checks and their errors, last_sequence and compacted_through.
  from (select private.pull_vault_state(pull_logs.vault_id, pull_logs.after_sequence, pull_logs.max_count)
                 as last_sequence,
               private.pull_compacted_through(pull_logs.vault_id) as compacted_through
        offset 0) as v
  left join lateral (
    -- The rows read (max_count + 1 at most, the extra one only says has_more), each marked whether it
    -- is in the page: within max_count and begun before the byte budget (the first row always is).
    select r.log, r.sequence,
           row_number() over w <= pull_logs.max_count
             and sum(r.bytes) over w - r.bytes < (private.limits()).max_pull_bytes as in_page
    from (
      select l as log, l.sequence,
             -- int per log (at most ~525 KB), so that the running sum is a bigint, not a numeric;
             -- octet_length() of a TOASTed value reads the size from the pointer (no detoasting).
             octet_length(l.encrypted_data) + octet_length(l.nonce) + octet_length(l.haex_timestamp)
               + coalesce(octet_length(l.device_id), 0) + coalesce(octet_length(l.record_key), 0) as bytes
      from public.sync_logs as l
      where l.vault_id = pull_logs.vault_id
        and l.sequence > pull_logs.after_sequence
        -- true for every committed log; makes the read depend on the state row, so the checks run first
        and l.sequence <= v.last_sequence
      order by l.sequence
      -- Clamped so that no argument can make the LIMIT itself fail before pull_vault_state has
      -- raised the argument's PT400.
      limit greatest(least(pull_logs.max_count, (private.limits()).max_pull_count), 0) + 1
    ) as r
    window w as (order by r.sequence rows between unbounded preceding and current row)
  ) as p on true
  group by v.last_sequence, v.compacted_through
$$;
comment on function public.pull_logs(uuid, bigint, int) is
  'API, hot path: ONE row, the page of the caller''s logs after after_sequence (logs: sync_logs rows ascending, at most max_count, 1..1000, and about max_pull_bytes; empty array for no logs) with the page''s has_more, next_sequence, last_sequence and compacted_through once, all from the same snapshot. PT400 for a bad argument; PT404 for a vault that is absent, deleted or not the caller''s; PT409 hint cursor_ahead when after_sequence > last_sequence. language sql, STABLE, SECURITY INVOKER and without a SET clause on purpose, so that PostgreSQL inlines it into PostgREST''s query; names are schema-qualified instead; RLS restricts rows to the caller''s.';
revoke execute on function public.pull_logs(uuid, bigint, int) from public, anon;
grant execute on function public.pull_logs(uuid, bigint, int) to authenticated;

reset lock_timeout;
