create or replace function public.pull_logs (
  vault_id       uuid,
  after_sequence bigint  default 0,
  max_count      integer default 100
)
  returns table (
    logs              public.sync_logs[],
    has_more          boolean,
    next_sequence     bigint,
    last_sequence     bigint,
    compacted_through bigint
  )
  language sql
  stable
  AS $function$
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
      -- The row without wire (issue 25: pull_page sends that; here it would double the page).
      select row(l.vault_id, l.sequence, l.id, l.author_id, l.device_id, l.encrypted_data, l.nonce, l.haex_timestamp,
                 l.created_at, l.record_key, l.key_generation, null)::public.sync_logs as log, l.sequence,
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
$function$;

comment on function "public"."pull_logs"(uuid, bigint, integer) is 'API, hot path: ONE row, the page of the caller''s logs after after_sequence (logs: sync_logs rows ascending, at most max_count, 1..1000, and about max_pull_bytes; empty array for no logs) with the page''s has_more, next_sequence, last_sequence and compacted_through once, all from the same snapshot. PT400 for a bad argument; PT404 for a vault that is absent, deleted or not the caller''s; PT409 hint cursor_ahead when after_sequence > last_sequence. language sql, STABLE, SECURITY INVOKER and without a SET clause on purpose, so that PostgreSQL inlines it into PostgREST''s query; names are schema-qualified instead; RLS restricts rows to the caller''s.';

revoke all on function "public"."pull_logs"(uuid, bigint, integer) from public;

grant execute on function "public"."pull_logs"(uuid, bigint, integer) to "authenticated", "postgres", "service_role";
