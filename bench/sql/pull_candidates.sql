-- Candidate shapes of public.pull_logs, measured by `tsx bench/profile-pull.ts` (docs/performance.md).
-- Each takes pull_logs' arguments and gives the same page; only the shape of the answer differs.
-- The page computation (byte budget, exact has_more, one snapshot) is the one of
-- 20261129400600 (two window passes, cand_rows) unless said; public.pull_logs itself (20261202120000)
-- is measured as it is. A: cand_per_row is 20261129400600's pull_logs, the shape before.

create type public.cand_log as (id uuid, sequence bigint, encrypted_data text, nonce text, haex_timestamp text,
  device_id text, created_at timestamptz, record_key text);
create type public.cand_page as (logs public.cand_log[], has_more boolean, next_sequence bigint,
  last_sequence bigint, compacted_through bigint);
create type public.cand_page_json as (logs json, has_more boolean, next_sequence bigint,
  last_sequence bigint, compacted_through bigint);

-- The page rows with their cut, shared by the candidates (inlined into each).
create function public.cand_rows(vault_id uuid, after_sequence bigint, max_count int)
returns table (id uuid, sequence bigint, encrypted_data text, nonce text, haex_timestamp text, device_id text,
               created_at timestamptz, record_key text, last_sequence bigint, compacted_through bigint,
               page_rows bigint, read_rows bigint)
language sql stable
as $$
  select p.id, p.sequence, p.encrypted_data, p.nonce, p.haex_timestamp, p.device_id, p.created_at, p.record_key,
         v.last_sequence, v.compacted_through, p.page_rows, p.read_rows
  from (select private.pull_vault_state(cand_rows.vault_id, cand_rows.after_sequence, cand_rows.max_count) as last_sequence,
               private.pull_compacted_through(cand_rows.vault_id) as compacted_through
        offset 0) as v
  left join lateral (
    select k.id, k.sequence, k.encrypted_data, k.nonce, k.haex_timestamp, k.device_id, k.created_at, k.record_key, k.read_rows,
           count(*) over () as page_rows
    from (
      select r.id, r.sequence, r.encrypted_data, r.nonce, r.haex_timestamp, r.device_id, r.created_at, r.record_key,
             row_number() over w as n, sum(r.bytes) over w - r.bytes as bytes_before, count(*) over () as read_rows
      from (
        select l.id, l.sequence, l.encrypted_data, l.nonce, l.haex_timestamp, l.device_id, l.created_at, l.record_key,
               octet_length(l.encrypted_data) + octet_length(l.nonce) + octet_length(l.haex_timestamp)
                 + coalesce(octet_length(l.device_id), 0) + coalesce(octet_length(l.record_key), 0) as bytes
        from public.sync_logs as l
        where l.vault_id = cand_rows.vault_id and l.sequence > cand_rows.after_sequence and l.sequence <= v.last_sequence
        order by l.sequence
        limit greatest(least(cand_rows.max_count, (private.limits()).max_pull_count), 0) + 1
      ) as r
      window w as (order by r.sequence)
    ) as k
    where k.n <= cand_rows.max_count and k.bytes_before < (private.limits()).max_pull_bytes
  ) as p on true
$$;
grant execute on function public.cand_rows(uuid, bigint, int) to authenticated;

-- B: one composite value (not setof), logs as an array of a composite type.
create function public.cand_composite(vault_id uuid, after_sequence bigint default 0, max_count int default 100)
returns public.cand_page
language sql stable
as $$
  select coalesce(array_agg(row(r.id, r.sequence, r.encrypted_data, r.nonce, r.haex_timestamp, r.device_id, r.created_at,
                                r.record_key)::public.cand_log order by r.sequence) filter (where r.id is not null), '{}'),
         coalesce(max(r.page_rows) < max(r.read_rows), false),
         case when max(r.page_rows) < max(r.read_rows) then max(r.sequence) else max(r.last_sequence) end,
         max(r.last_sequence), max(r.compacted_through)
  from public.cand_rows(cand_composite.vault_id, cand_composite.after_sequence, cand_composite.max_count) r
$$;
grant execute on function public.cand_composite(uuid, bigint, int) to authenticated;

-- C: one composite value, logs as json built in the function.
create function public.cand_composite_json(vault_id uuid, after_sequence bigint default 0, max_count int default 100)
returns public.cand_page_json
language sql stable
as $$
  select coalesce(json_agg(json_build_object('id', r.id, 'sequence', r.sequence, 'encrypted_data', r.encrypted_data,
                             'nonce', r.nonce, 'haex_timestamp', r.haex_timestamp, 'device_id', r.device_id,
                             'created_at', r.created_at, 'record_key', r.record_key) order by r.sequence)
                    filter (where r.id is not null), '[]'),
         coalesce(max(r.page_rows) < max(r.read_rows), false),
         case when max(r.page_rows) < max(r.read_rows) then max(r.sequence) else max(r.last_sequence) end,
         max(r.last_sequence), max(r.compacted_through)
  from public.cand_rows(cand_composite_json.vault_id, cand_composite_json.after_sequence, cand_composite_json.max_count) r
$$;
grant execute on function public.cand_composite_json(uuid, bigint, int) to authenticated;

-- D: setof with one row (inlinable), logs as an array of the composite type.
create function public.cand_setof_one(vault_id uuid, after_sequence bigint default 0, max_count int default 100)
returns setof public.cand_page
language sql stable rows 1
as $$
  select coalesce(array_agg(row(r.id, r.sequence, r.encrypted_data, r.nonce, r.haex_timestamp, r.device_id, r.created_at,
                                r.record_key)::public.cand_log order by r.sequence) filter (where r.id is not null), '{}'),
         coalesce(max(r.page_rows) < max(r.read_rows), false),
         case when max(r.page_rows) < max(r.read_rows) then max(r.sequence) else max(r.last_sequence) end,
         max(r.last_sequence), max(r.compacted_through)
  from public.cand_rows(cand_setof_one.vault_id, cand_setof_one.after_sequence, cand_setof_one.max_count) r
$$;
grant execute on function public.cand_setof_one(uuid, bigint, int) to authenticated;

-- E: plpgsql composite (not inlined, plan cached across calls of a session).
create function public.cand_plpgsql(vault_id uuid, after_sequence bigint default 0, max_count int default 100)
returns public.cand_page
language plpgsql stable
set search_path = ''
as $$
declare
  page public.cand_page;
begin
  select coalesce(array_agg(row(r.id, r.sequence, r.encrypted_data, r.nonce, r.haex_timestamp, r.device_id, r.created_at,
                                r.record_key)::public.cand_log order by r.sequence) filter (where r.id is not null), '{}'),
         coalesce(max(r.page_rows) < max(r.read_rows), false),
         case when max(r.page_rows) < max(r.read_rows) then max(r.sequence) else max(r.last_sequence) end,
         max(r.last_sequence), max(r.compacted_through)
    into page
  from public.cand_rows(cand_plpgsql.vault_id, cand_plpgsql.after_sequence, cand_plpgsql.max_count) r;
  return page;
end
$$;
grant execute on function public.cand_plpgsql(uuid, bigint, int) to authenticated;

-- G: as public.pull_logs (one window pass), logs as the composite cand_log (only the log columns; its
-- generated attributes are all nullable).
create function public.cand_composite_one(vault_id uuid, after_sequence bigint default 0, max_count int default 100)
returns table (logs public.cand_log[], has_more boolean, next_sequence bigint, last_sequence bigint, compacted_through bigint)
language sql stable
as $$
  select coalesce(array_agg(k.log order by k.sequence) filter (where k.in_page), '{}'),
         coalesce(bool_or(not k.in_page), false),
         case when bool_or(not k.in_page) then max(k.sequence) filter (where k.in_page) else v.last_sequence end,
         v.last_sequence, v.compacted_through
  from (select private.pull_vault_state(cand_composite_one.vault_id, cand_composite_one.after_sequence, cand_composite_one.max_count) as last_sequence,
               private.pull_compacted_through(cand_composite_one.vault_id) as compacted_through
        offset 0) as v
  left join lateral (
    select r.log, r.sequence,
           row_number() over w <= cand_composite_one.max_count
             and sum(r.bytes) over w - r.bytes < (private.limits()).max_pull_bytes as in_page
    from (
      select row(l.id, l.sequence, l.encrypted_data, l.nonce, l.haex_timestamp, l.device_id, l.created_at, l.record_key)::public.cand_log as log,
             l.sequence,
             octet_length(l.encrypted_data) + octet_length(l.nonce) + octet_length(l.haex_timestamp)
               + coalesce(octet_length(l.device_id), 0) + coalesce(octet_length(l.record_key), 0) as bytes
      from public.sync_logs as l
      where l.vault_id = cand_composite_one.vault_id and l.sequence > cand_composite_one.after_sequence and l.sequence <= v.last_sequence
      order by l.sequence
      limit greatest(least(cand_composite_one.max_count, (private.limits()).max_pull_count), 0) + 1
    ) as r
    window w as (order by r.sequence rows between unbounded preceding and current row)
  ) as k on true
  group by v.last_sequence, v.compacted_through
$$;
grant execute on function public.cand_composite_one(uuid, bigint, int) to authenticated;

-- A: the shape before (20261129400600): one row per log, the state on every row, a row of nulls when empty.
create function public.cand_per_row(vault_id uuid, after_sequence bigint default 0, max_count int default 100)
returns table (id uuid, sequence bigint, encrypted_data text, nonce text, haex_timestamp text, device_id text,
               created_at timestamptz, record_key text, last_sequence bigint, has_more boolean, next_sequence bigint,
               compacted_through bigint)
language sql stable
as $$
  select r.id, r.sequence, r.encrypted_data, r.nonce, r.haex_timestamp, r.device_id, r.created_at, r.record_key,
         r.last_sequence, coalesce(r.page_rows < r.read_rows, false),
         case when r.page_rows < r.read_rows then max(r.sequence) over () else r.last_sequence end,
         r.compacted_through
  from public.cand_rows(cand_per_row.vault_id, cand_per_row.after_sequence, cand_per_row.max_count) r
  order by r.sequence
$$;
grant execute on function public.cand_per_row(uuid, bigint, int) to authenticated;

notify pgrst, 'reload schema';
