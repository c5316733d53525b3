-- pull_logs returns each log's record_key and, with the page's state, the vault's compacted_through.
--
-- As 20261129200300_recreate_pull_logs_with_page_state.sql (see its header for the contract, the
-- inlined shape and why it stays fast), plus:
--   * record_key: the client needs it to authenticate a log (it is bound into the v2 AAD,
--     client/src/log-crypto.ts); it also counts toward the page's byte budget.
--   * compacted_through (every row, also the empty page's one row): how far compaction has run,
--     read in the same statement, hence the same snapshot, as the logs and last_sequence.
--     compact_logs deletes logs only at or below it and raises it in the transaction of its
--     deletions, so a client accepts a missing sequence <= compacted_through as compacted and treats
--     any other missing sequence, inside the page or in the tail up to next_sequence, as a lost log.
-- Pages skip compacted sequences by themselves: they read the logs that exist after the cursor.
-- The result type changes, so the function is dropped and created (grants again below).

drop function public.pull_logs(uuid, bigint, int);

-- compacted_through is read by a STABLE plpgsql function, as pull_vault_state reads last_sequence:
-- evaluated once per statement, on the statement's snapshot (the logs' and last_sequence's), an
-- index probe of the caller's vault row under RLS; a plain subquery on vaults was free to be planned
-- as a sequential scan of vaults (tests/sql-explain.test.ts saw it).
create function private.pull_compacted_through(vault_id uuid)
returns bigint
language plpgsql stable
set search_path = ''
as $$
begin
  -- As the caller: RLS hides other users' vaults (pull_vault_state has raised PT404 for those).
  return (select v.compacted_through from public.vaults v where v.id = pull_compacted_through.vault_id);
end
$$;
comment on function private.pull_compacted_through(uuid) is
  'The compacted_through of the caller''s vault, for public.pull_logs (SECURITY INVOKER, so executable by authenticated); null for a vault the caller cannot see.';
revoke execute on function private.pull_compacted_through(uuid) from public, anon;
grant execute on function private.pull_compacted_through(uuid) to authenticated;

create function public.pull_logs(vault_id uuid, after_sequence bigint default 0, max_count int default 100)
returns table (id uuid, sequence bigint, encrypted_data text, nonce text, haex_timestamp text, device_id text,
               created_at timestamptz, record_key text, last_sequence bigint, has_more boolean, next_sequence bigint,
               compacted_through bigint)
language sql stable
as $$
  select p.id, p.sequence, p.encrypted_data, p.nonce, p.haex_timestamp, p.device_id, p.created_at, p.record_key,
         v.last_sequence,
         coalesce(p.page_rows < p.read_rows, false),
         case when p.page_rows < p.read_rows then p.page_last else v.last_sequence end,
         v.compacted_through
  from (select private.pull_vault_state(pull_logs.vault_id, pull_logs.after_sequence, pull_logs.max_count)
                 as last_sequence,
               private.pull_compacted_through(pull_logs.vault_id) as compacted_through
        offset 0) as v
  left join lateral (
    -- The page: the rows read, cut at max_count and at the byte budget (the first row always stays).
    select k.id, k.sequence, k.encrypted_data, k.nonce, k.haex_timestamp, k.device_id, k.created_at, k.record_key, k.read_rows,
           count(*) over () as page_rows, max(k.sequence) over () as page_last
    from (
      select r.id, r.sequence, r.encrypted_data, r.nonce, r.haex_timestamp, r.device_id, r.created_at, r.record_key,
             row_number() over w as n, sum(r.bytes) over w - r.bytes as bytes_before, count(*) over () as read_rows
      from (
        select l.id, l.sequence, l.encrypted_data, l.nonce, l.haex_timestamp, l.device_id, l.created_at, l.record_key,
               -- int per log (at most ~525 KB), so that the running sum is a bigint, not a numeric
               octet_length(l.encrypted_data) + octet_length(l.nonce) + octet_length(l.haex_timestamp)
                 + coalesce(octet_length(l.device_id), 0) + coalesce(octet_length(l.record_key), 0) as bytes
        from public.sync_logs as l
        where l.vault_id = pull_logs.vault_id
          and l.sequence > pull_logs.after_sequence
          and l.sequence <= v.last_sequence
        order by l.sequence
        -- max_count + 1: the extra row only says has_more. Clamped so that no argument can make the
        -- LIMIT itself fail before pull_vault_state has raised the argument's PT400.
        limit greatest(least(pull_logs.max_count, (private.limits()).max_pull_count), 0) + 1
      ) as r
      window w as (order by r.sequence)
    ) as k
    where k.n <= pull_logs.max_count and k.bytes_before < (private.limits()).max_pull_bytes
  ) as p on true
  order by p.sequence
$$;
comment on function public.pull_logs(uuid, bigint, int) is
  'API, hot path: one page of the caller''s logs after after_sequence (at most max_count, 1..1000, and about max_pull_bytes), each row carrying its record_key and the vault''s last_sequence, has_more, next_sequence and compacted_through from the same snapshot; an empty page is one row with null log columns. PT404 for a vault that is absent, deleted or not the caller''s; PT409 hint cursor_ahead when after_sequence > last_sequence. language sql, STABLE, SECURITY INVOKER and without a SET clause on purpose, so that PostgreSQL inlines it into PostgREST''s query; names are schema-qualified instead; RLS restricts rows to the caller''s.';
revoke execute on function public.pull_logs(uuid, bigint, int) from public, anon;
grant execute on function public.pull_logs(uuid, bigint, int) to authenticated;
