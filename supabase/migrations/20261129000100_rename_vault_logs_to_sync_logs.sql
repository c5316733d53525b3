-- Renames public.vault_logs to public.sync_logs, the name HaexHub's clients and the design card use
-- (RLS protects vault_keys and sync_logs; Realtime subscriptions name public.sync_logs).
--
-- ALTER TABLE ... RENAME keeps the rows, their sequences, the grants and the RLS policy; the
-- indexes and constraints keep their old generated names, so they are renamed here to what
-- `create table public.sync_logs` would have named them. push_logs and pull_logs store their bodies
-- as text that names the table, so they are recreated with the new name, unchanged otherwise.

alter table public.vault_logs rename to sync_logs;

alter table public.sync_logs rename constraint vault_logs_pkey to sync_logs_pkey;
alter table public.sync_logs rename constraint vault_logs_vault_id_id_key to sync_logs_vault_id_id_key;
alter table public.sync_logs rename constraint vault_logs_vault_id_fkey to sync_logs_vault_id_fkey;
alter table public.sync_logs rename constraint vault_logs_author_id_fkey to sync_logs_author_id_fkey;
alter table public.sync_logs rename constraint vault_logs_sequence_check to sync_logs_sequence_check;
alter index public.vault_logs_author_id_vault_id_sequence_idx rename to sync_logs_author_id_vault_id_sequence_idx;

alter policy "Owners can read their vault logs" on public.sync_logs rename to "Owners can read their sync logs";

comment on table public.sync_logs is
  'Encrypted change logs. Owners read them (pull_logs or a direct select); writes go through push_logs only.';
comment on column public.sync_logs.sequence is 'Per vault: 1, 2, 3, ... gap-free, in commit order.';
comment on column public.sync_logs.id is 'Chosen by the client (idempotency key), unique per vault.';

-- push_logs, as in 20261127000600_create_push_logs.sql (see its header), on sync_logs.
create or replace function public.push_logs(vault_id uuid, logs jsonb)
returns jsonb
language plpgsql volatile
security definer -- inserts into sync_logs and updates vaults, on which API roles have no write grant
set search_path = ''
as $$
declare
  uid uuid := auth.uid();  -- what private.require_uid() checks, inlined (one call less per push)
  lim private.limit_set := private.limits();
  entry_count int;
  all_valid boolean;
  bad_index bigint;        -- index (0-based) of the first invalid entry
  problem text[];          -- {field suffix, SQLSTATE, complaint} of that entry
  total_data_chars bigint;
  previous_last bigint;
  new_count bigint;
  new_bytes bigint;
  results jsonb;
begin
  if uid is null then
    raise exception using errcode = 'PT401', message = 'a signed-in user is required', detail = 'authorization';
  end if;
  if push_logs.vault_id is null then
    raise exception using errcode = 'PT400', message = 'vault_id must not be null', detail = 'vault_id';
  end if;
  if push_logs.logs is null or jsonb_typeof(push_logs.logs) <> 'array' then
    raise exception using errcode = 'PT400', message = 'logs must be a JSON array', detail = 'logs';
  end if;
  entry_count := jsonb_array_length(push_logs.logs);
  if entry_count < 1 then
    raise exception using errcode = 'PT400',
      message = format('logs must contain 1 to %s entries', lim.max_logs_per_push), detail = 'logs';
  end if;
  if entry_count > lim.max_logs_per_push then
    raise exception using errcode = 'PT413',
      message = format('logs must contain 1 to %s entries', lim.max_logs_per_push), detail = 'logs';
  end if;

  -- Validate every entry (before taking the lock, to keep the critical section short). Fast path:
  -- one aggregate says whether all entries are valid. It accepts exactly what the diagnosis below
  -- accepts, written in cheaper terms (measured: the counted-repetition uuid regex and length() of
  -- the long encrypted_data cost several µs per entry):
  --   * id: 36 bytes of hex digits and '-', with '-' at positions 9, 14, 19, 24 and nowhere else,
  --     is the same set as the 8-4-4-4-12 regex;
  --   * encrypted_data: private.is_base64's test, written out (no function call per entry); it only
  --     passes ASCII, where octet_length = length.
  -- Should it ever reject what the diagnosis accepts, the diagnosis finds nothing and the push goes on.
  select bool_and(coalesce(
           jsonb_typeof(e.v) = 'object'
           and (case jsonb_typeof(e.v -> 'id')
                  when 'string' then
                    octet_length(e.v ->> 'id') = 36
                    and (e.v ->> 'id') like '________-____-____-____-____________'
                    and octet_length(replace(e.v ->> 'id', '-', '')) = 32
                    and (e.v ->> 'id') ~ '^[-0-9A-Fa-f]*$'
                  when 'null' then true
                  else e.v -> 'id' is null end)
           and jsonb_typeof(e.v -> 'encrypted_data') = 'string'
           and octet_length(e.v ->> 'encrypted_data') between 1 and lim.max_log_data_chars
           and octet_length(e.v ->> 'encrypted_data') % 4 = 0
           and (e.v ->> 'encrypted_data') ~ '^[A-Za-z0-9+/]*={0,2}$'
           and jsonb_typeof(e.v -> 'nonce') = 'string'
           and length(e.v ->> 'nonce') between 1 and lim.max_log_nonce_chars
           and jsonb_typeof(e.v -> 'haex_timestamp') = 'string'
           and length(e.v ->> 'haex_timestamp') between 1 and lim.max_haex_timestamp_chars
           and (case jsonb_typeof(e.v -> 'device_id')
                  when 'string' then length(e.v ->> 'device_id') <= lim.max_device_id_chars
                  when 'null' then true
                  else e.v -> 'device_id' is null end),
           false)),
         sum(octet_length(e.v ->> 'encrypted_data'))  -- = length() once all are valid base64
  into all_valid, total_data_chars
  from jsonb_array_elements(push_logs.logs) as e(v);

  if not all_valid then
    -- Diagnosis: the first invalid entry sorts first.
    select c.i, c.p
    into bad_index, problem
    from (
      select e.ord - 1 as i,
             case
               when jsonb_typeof(e.v) <> 'object' then
                 array['', 'PT400', 'must be an object']
               when coalesce(jsonb_typeof(e.v -> 'id'), 'null') <> 'null'
                    and (jsonb_typeof(e.v -> 'id') <> 'string'
                         or (e.v ->> 'id') !~ '^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$') then
                 array['.id', 'PT400', 'must be a uuid']
               when coalesce(jsonb_typeof(e.v -> 'encrypted_data'), 'null') <> 'string' then
                 array['.encrypted_data', 'PT400', 'must be a base64 string']
               when length(e.v ->> 'encrypted_data') > lim.max_log_data_chars then
                 array['.encrypted_data', 'PT413', format('must be at most %s characters', lim.max_log_data_chars)]
               when not private.is_base64(e.v ->> 'encrypted_data') then
                 array['.encrypted_data', 'PT400', 'must be non-empty base64']
               when coalesce(jsonb_typeof(e.v -> 'nonce'), 'null') <> 'string'
                    or length(e.v ->> 'nonce') not between 1 and lim.max_log_nonce_chars then
                 array['.nonce', 'PT400', format('must be 1 to %s characters', lim.max_log_nonce_chars)]
               when coalesce(jsonb_typeof(e.v -> 'haex_timestamp'), 'null') <> 'string'
                    or length(e.v ->> 'haex_timestamp') not between 1 and lim.max_haex_timestamp_chars then
                 array['.haex_timestamp', 'PT400', format('must be 1 to %s characters', lim.max_haex_timestamp_chars)]
               when coalesce(jsonb_typeof(e.v -> 'device_id'), 'null') not in ('null', 'string')
                    or length(e.v ->> 'device_id') > lim.max_device_id_chars then
                 array['.device_id', 'PT400', format('must be a string of at most %s characters', lim.max_device_id_chars)]
             end as p
      from jsonb_array_elements(push_logs.logs) with ordinality as e(v, ord)
    ) as c
    order by c.p is null, c.i
    limit 1;

    if problem is not null then -- always, as both apply the same rules
      raise exception using errcode = problem[2],
        message = format('logs[%s]%s %s', bad_index, problem[1], problem[3]),
        detail = format('logs[%s]%s', bad_index, problem[1]);
    end if;
  end if;
  if total_data_chars > lim.max_push_data_chars then
    raise exception using errcode = 'PT413',
      message = format('logs: encrypted_data must total at most %s characters per push', lim.max_push_data_chars),
      detail = 'logs';
  end if;

  -- The vault's push lock, held to commit (see the header). Absent and foreign vaults: same PT404.
  -- A statement of its own: the statements after it take a new snapshot, which sees the logs of
  -- every push that held the lock before.
  select v.last_sequence into previous_last
  from public.vaults v
  where v.id = push_logs.vault_id and v.owner_id = uid
  for update;
  if not found then
    raise exception using errcode = 'PT404', message = 'vault not found', detail = 'vault_id';
  end if;

  begin
    -- Common case: no entry is a duplicate, so entry i gets previous_last + i. One statement.
    with input as (
      select coalesce(t.id::uuid, gen_random_uuid()) as id, previous_last + t.ord as sequence,
             t.device_id, t.encrypted_data, t.nonce, t.haex_timestamp
      from rows from (jsonb_to_recordset(push_logs.logs)
                        as (id text, encrypted_data text, nonce text, haex_timestamp text, device_id text))
           with ordinality as t(id, encrypted_data, nonce, haex_timestamp, device_id, ord)
    ),
    inserted as (
      insert into public.sync_logs (vault_id, sequence, id, author_id, device_id, encrypted_data, nonce, haex_timestamp)
      select push_logs.vault_id, i.sequence, i.id, uid, i.device_id, i.encrypted_data, i.nonce, i.haex_timestamp
      from input i
      returning id, sequence, octet_length(encrypted_data) + octet_length(nonce) + octet_length(haex_timestamp) as bytes
    ),
    totals as (
      select count(*) as n, coalesce(sum(n.bytes), 0) as bytes,
             jsonb_agg(jsonb_build_object('id', n.id, 'sequence', n.sequence, 'duplicate', false) order by n.sequence) as r
      from inserted n
    ),
    counters as (
      update public.vaults v
      set last_sequence = previous_last + t.n, bytes = v.bytes + t.bytes, updated_at = now()
      from totals t
      where v.id = push_logs.vault_id and t.n > 0
    )
    select t.n, t.r into new_count, results from totals t;
    return jsonb_build_object('last_sequence', previous_last + new_count, 'results', results);
  exception when unique_violation then
    null; -- a duplicate id: this attempt is undone; number the batch the exact way below
  end;

  -- Exact path, for a batch with duplicates: each entry probes the (vault_id, id) index; new ids
  -- are numbered in input order, an id repeated in the batch is stored once (first occurrence).
  with input as materialized (
    select e.ord, coalesce((e.v ->> 'id')::uuid, gen_random_uuid()) as id, e.v
    from jsonb_array_elements(push_logs.logs) with ordinality as e(v, ord)
  ),
  classified as materialized (
    select i.ord, i.id, i.v,
           min(i.ord) over (partition by i.id) as first_ord,
           -- A scalar subquery stays one probe of the (vault_id, id) index per entry. A plain or
           -- LATERAL join gets flattened and was planned as a hash join reading every log of the
           -- vault, so push time grew with the vault (bench/profile-growth.ts).
           (select old.sequence from public.sync_logs old
            where old.vault_id = push_logs.vault_id and old.id = i.id) as existing_sequence
    from input i
  ),
  fresh as materialized (
    select c.ord, c.id, c.v, previous_last + row_number() over (order by c.ord) as sequence
    from classified c
    where c.existing_sequence is null and c.ord = c.first_ord
  ),
  inserted as (
    insert into public.sync_logs (vault_id, sequence, id, author_id, device_id, encrypted_data, nonce, haex_timestamp)
    select push_logs.vault_id, f.sequence, f.id, uid, f.v ->> 'device_id', f.v ->> 'encrypted_data', f.v ->> 'nonce',
           f.v ->> 'haex_timestamp'
    from fresh f
    order by f.sequence
    returning octet_length(encrypted_data) + octet_length(nonce) + octet_length(haex_timestamp) as bytes
  )
  select (select count(*) from inserted),
         (select coalesce(sum(n.bytes), 0) from inserted n),
         (select jsonb_agg(jsonb_build_object(
                   'id', c.id,
                   'sequence', coalesce(c.existing_sequence, f.sequence),
                   'duplicate', c.existing_sequence is not null or c.ord <> c.first_ord)
                 order by c.ord)
          from classified c
          left join fresh f on f.id = c.id)
  into new_count, new_bytes, results;

  if new_count > 0 then
    update public.vaults v
    set last_sequence = previous_last + new_count,
        bytes = v.bytes + new_bytes,
        updated_at = now()
    where v.id = push_logs.vault_id;
  end if;

  return jsonb_build_object('last_sequence', previous_last + new_count, 'results', results);
end
$$;
comment on function public.push_logs(uuid, jsonb) is
  'API: appends encrypted logs to the caller''s vault, numbering them gap-free under the vault row lock; idempotent by log id. SECURITY DEFINER because sync_logs and vaults have no write grants; ownership checked against auth.uid().';

-- pull_logs, as in 20261127000700_create_pull_logs.sql (see its header), on sync_logs.
create or replace function public.pull_logs(vault_id uuid, after_sequence bigint default 0, max_count int default 100)
returns table (id uuid, sequence bigint, encrypted_data text, nonce text, haex_timestamp text, device_id text,
               created_at timestamptz)
language sql stable
as $$
  select l.id, l.sequence, l.encrypted_data, l.nonce, l.haex_timestamp, l.device_id, l.created_at
  from public.sync_logs as l
  where l.vault_id = pull_logs.vault_id
    and l.sequence > pull_logs.after_sequence
  order by l.sequence
  limit private.pull_page_size(pull_logs.vault_id, pull_logs.after_sequence, pull_logs.max_count)
$$;
comment on function public.pull_logs(uuid, bigint, int) is
  'API, hot path: the caller''s logs of a vault with sequence > after_sequence, ascending, at most max_count (1..1000, else PT400). language sql, STABLE, SECURITY INVOKER and without a SET clause on purpose, so that PostgreSQL inlines it into PostgREST''s query (index scan on the sync_logs primary key); names are schema-qualified instead; RLS on sync_logs restricts rows to the caller''s.';

