-- pull_logs, the pull hot path, with a page bounded in bytes and the page's state from the database.
--
-- Contract (docs/sql-api.md):
--   public.pull_logs(vault_id uuid, after_sequence bigint default 0, max_count int default 100)
--   returns table (id uuid, sequence bigint, encrypted_data text, nonce text, haex_timestamp text,
--                  device_id text, created_at timestamptz,
--                  last_sequence bigint, has_more boolean, next_sequence bigint)
--   * rows: the caller's logs with after_sequence < sequence <= last_sequence, ascending, at most
--     max_count (1..max_pull_count), ending once the logs before the next one reach max_pull_bytes
--     (private.limits()); always at least one log when one exists after the cursor.
--   * every row also carries the page's state, read in the SAME snapshot as the logs:
--       last_sequence  the vault's last_sequence;
--       has_more       whether a log exists after this page (exact, never a guess from the row count);
--       next_sequence  the cursor to send next: the page's last sequence when has_more, else last_sequence.
--   * a page without logs is ONE row whose log columns are all null, carrying the three state columns
--     (the cursor can then still move to last_sequence: after compaction a vault's tail may hold no
--     live logs).
--   * PT400 for a null or out-of-range argument; PT404 (detail vault_id) when the vault does not
--     exist, was deleted, or is not the caller's; PT409 (detail after_sequence, hint cursor_ahead)
--     when after_sequence > last_sequence: the cursor belongs to logs this vault does not have.
--
-- Shape, and why it stays fast: `language sql stable`, SECURITY INVOKER, no SET clause, so
-- PostgreSQL still inlines it into PostgREST's statement (tests/sql-explain.test.ts): the logs are an
-- index range scan on sync_logs_pkey (vault_id, sequence) with RLS, stopping after max_count + 1 rows
-- (the extra row only says has_more). octet_length() of a TOASTed value reads its size from the
-- TOAST pointer, so the byte count never detoasts a log it then leaves out.
-- The vault's state comes from private.pull_vault_state, a STABLE plpgsql function evaluated once
-- (a one-row subquery kept apart by OFFSET 0, so the planner cannot copy the call into every use):
-- it checks the arguments, reads the vault under RLS and raises the errors above. A STABLE function
-- runs on the snapshot of the statement that calls it, so last_sequence and the logs are one
-- snapshot; push_logs commits logs and last_sequence together under the vault row lock.
-- The logs subquery reads `sequence <= v.last_sequence`: true for every committed log, and it makes
-- the logs depend on the state row, so the state (and its checks) is evaluated first.

drop function public.pull_logs(uuid, bigint, int);
drop function private.pull_page_size(uuid, bigint, int);

create function private.pull_vault_state(vault_id uuid, after_sequence bigint, max_count int)
returns bigint
language plpgsql stable
set search_path = ''
as $$
declare
  lim private.limit_set := private.limits();
  last bigint;
begin
  if vault_id is null then
    raise exception using errcode = 'PT400', message = 'vault_id must not be null', detail = 'vault_id';
  end if;
  if after_sequence is null or after_sequence < 0 then
    raise exception using errcode = 'PT400', message = 'after_sequence must be 0 or more', detail = 'after_sequence';
  end if;
  if max_count is null or max_count < 1 or max_count > lim.max_pull_count then
    raise exception using errcode = 'PT400',
      message = format('max_count must be 1 to %s', lim.max_pull_count), detail = 'max_count';
  end if;
  -- As the caller: RLS ("Owners can read their vaults") hides other users' vaults.
  select v.last_sequence into last from public.vaults v where v.id = pull_vault_state.vault_id;
  if not found then
    raise exception using errcode = 'PT404', message = 'vault not found', detail = 'vault_id';
  end if;
  if after_sequence > last then
    raise exception using errcode = 'PT409',
      message = format('after_sequence %s is beyond the vault''s last sequence %s', after_sequence, last),
      detail = 'after_sequence', hint = 'cursor_ahead';
  end if;
  return last;
end
$$;
comment on function private.pull_vault_state(uuid, bigint, int) is
  'Argument and vault check of public.pull_logs: the vault''s last_sequence, or PT400 / PT404 / PT409 cursor_ahead. Executable by authenticated (pull_logs is SECURITY INVOKER); reads only the caller''s own vault row (RLS).';
revoke execute on function private.pull_vault_state(uuid, bigint, int) from public, anon;
grant execute on function private.pull_vault_state(uuid, bigint, int) to authenticated;

create function public.pull_logs(vault_id uuid, after_sequence bigint default 0, max_count int default 100)
returns table (id uuid, sequence bigint, encrypted_data text, nonce text, haex_timestamp text, device_id text,
               created_at timestamptz, last_sequence bigint, has_more boolean, next_sequence bigint)
language sql stable
as $$
  select p.id, p.sequence, p.encrypted_data, p.nonce, p.haex_timestamp, p.device_id, p.created_at,
         v.last_sequence,
         coalesce(p.page_rows < p.read_rows, false),
         case when p.page_rows < p.read_rows then p.page_last else v.last_sequence end
  from (select private.pull_vault_state(pull_logs.vault_id, pull_logs.after_sequence, pull_logs.max_count)
                 as last_sequence
        offset 0) as v
  left join lateral (
    -- The page: the rows read, cut at max_count and at the byte budget (the first row always stays).
    select k.id, k.sequence, k.encrypted_data, k.nonce, k.haex_timestamp, k.device_id, k.created_at, k.read_rows,
           count(*) over () as page_rows, max(k.sequence) over () as page_last
    from (
      select r.id, r.sequence, r.encrypted_data, r.nonce, r.haex_timestamp, r.device_id, r.created_at,
             row_number() over w as n, sum(r.bytes) over w - r.bytes as bytes_before, count(*) over () as read_rows
      from (
        select l.id, l.sequence, l.encrypted_data, l.nonce, l.haex_timestamp, l.device_id, l.created_at,
               -- int per log (at most ~525 KB), so that the running sum is a bigint, not a numeric
               octet_length(l.encrypted_data) + octet_length(l.nonce) + octet_length(l.haex_timestamp)
                 + coalesce(octet_length(l.device_id), 0) as bytes
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
  'API, hot path: one page of the caller''s logs after after_sequence (at most max_count, 1..1000, and about max_pull_bytes), each row carrying the vault''s last_sequence, has_more and next_sequence from the same snapshot; an empty page is one row with null log columns. PT404 for a vault that is absent, deleted or not the caller''s; PT409 hint cursor_ahead when after_sequence > last_sequence. language sql, STABLE, SECURITY INVOKER and without a SET clause on purpose, so that PostgreSQL inlines it into PostgREST''s query; names are schema-qualified instead; RLS restricts rows to the caller''s.';
revoke execute on function public.pull_logs(uuid, bigint, int) from public, anon;
grant execute on function public.pull_logs(uuid, bigint, int) to authenticated;
