-- public.push_logs as it was before issue 25 item 3 (main at a455284): JSON objects validated and
-- inserted from jsonb. Loaded by bench/profile-push.ts (PROFILE_BEFORE=1) into the throwaway database
-- only, to time it against push_log_columns in the same run; not a migration.
create schema if not exists bench;
create or replace function bench.push_logs_before (
  vault_id uuid,
  logs     jsonb
)
  returns jsonb
  language plpgsql
  security definer
  set search_path to ''
  AS $function$
declare
  uid uuid := private.caller_id();
  caller_role text;
  device text;             -- issue 19: the pushing session's device (private.caller_device), set server-side
  current_generation bigint;
  stale_index bigint;
  lim private.limit_set := private.limits();
  entry_count int;
  all_valid boolean;
  bad_index bigint;        -- index (0-based) of the first invalid entry
  problem text[];          -- {field suffix, SQLSTATE, complaint, hint} of that entry
  total_data_chars bigint;
  previous_last bigint;
  ever_compacted boolean;  -- compact_logs has removed logs of this vault (their ids are in private.compacted_log_ids)
  new_count bigint;
  new_bytes bigint;
  results jsonb;
  new_keyed bigint;
  due boolean;
begin
  if uid is null then
    raise exception using errcode = 'PT401', message = 'a signed-in user is required', detail = 'authorization';
  end if;
  if push_logs_before.vault_id is null then
    raise exception using errcode = 'PT400', message = 'vault_id must not be null', detail = 'vault_id';
  end if;
  if push_logs_before.logs is null or jsonb_typeof(push_logs_before.logs) <> 'array' then
    raise exception using errcode = 'PT400', message = 'logs must be a JSON array', detail = 'logs';
  end if;
  entry_count := jsonb_array_length(push_logs_before.logs);
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
                  else e.v -> 'device_id' is null end)
           and (case jsonb_typeof(e.v -> 'record_key')
                  when 'string' then (e.v ->> 'record_key') ~ '^[A-Za-z0-9_-]{1,64}$'
                  when 'null' then true
                  else e.v -> 'record_key' is null end)
           and (case jsonb_typeof(e.v -> 'key_generation')
                  when 'number' then (e.v ->> 'key_generation') ~ '^[1-9][0-9]{0,17}$'
                  when 'null' then true
                  else e.v -> 'key_generation' is null end),
           false)),
         sum(octet_length(e.v ->> 'encrypted_data'))  -- = length() once all are valid base64
  into all_valid, total_data_chars
  from jsonb_array_elements(push_logs_before.logs) as e(v);

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
                 array['.encrypted_data', 'PT413', format('must be at most %s characters', lim.max_log_data_chars),
                       format('A log holds at most %s characters of base64 encrypted_data (max_log_data_chars, about %s KiB of ciphertext). '
                              'Split big data into several logs (chunks under the limit, each its own change), '
                              'or keep it in file storage (e.g. Supabase Storage) and sync a reference to it.',
                              lim.max_log_data_chars, lim.max_log_data_chars / 4 * 3 / 1024)]
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
               when coalesce(jsonb_typeof(e.v -> 'record_key'), 'null') not in ('null', 'string')
                    or (e.v ->> 'record_key') !~ '^[A-Za-z0-9_-]{1,64}$' then
                 array['.record_key', 'PT400', 'must be null or 1 to 64 base64url characters (A-Z a-z 0-9 - _, no padding)']
               when coalesce(jsonb_typeof(e.v -> 'key_generation'), 'null') not in ('null', 'number')
                    or (e.v ->> 'key_generation') !~ '^[1-9][0-9]{0,17}$' then
                 array['.key_generation', 'PT400', 'must be null or a positive integer']
             end as p
      from jsonb_array_elements(push_logs_before.logs) with ordinality as e(v, ord)
    ) as c
    order by c.p is null, c.i
    limit 1;

    if problem[4] is not null then
      raise exception using errcode = problem[2],
        message = format('logs[%s]%s %s', bad_index, problem[1], problem[3]),
        detail = format('logs[%s]%s', bad_index, problem[1]), hint = problem[4];
    end if;
    if problem is not null then -- always, as both apply the same rules
      raise exception using errcode = problem[2],
        message = format('logs[%s]%s %s', bad_index, problem[1], problem[3]),
        detail = format('logs[%s]%s', bad_index, problem[1]);
    end if;
  end if;
  if total_data_chars > lim.max_push_data_chars then
    raise exception using errcode = 'PT413',
      message = format('logs: encrypted_data must total at most %s characters per push', lim.max_push_data_chars),
      detail = 'logs',
      hint = 'Push the logs in several smaller batches (the client library does so by itself).';
  end if;

  -- Membership before the lock: a non-member never takes (or waits for) the lock of a vault.
  caller_role := private.require_vault_role(push_logs_before.vault_id, 'writer');

  -- issue 19: the device, looked up (or registered) once, outside the vault lock.
  device := (private.caller_device(uid)).id::text;

  -- The vault's push lock, held to commit (see the header). A statement of its own: the statements
  -- after it take a new snapshot, which sees the logs of every push that held the lock before, and
  -- every membership change committed before (those take this lock too).
  select v.last_sequence, v.compacted_logs > 0, v.key_generation into previous_last, ever_compacted, current_generation
  from public.vaults v
  where v.id = push_logs_before.vault_id
  for update;
  if not found then
    raise exception using errcode = 'PT404', message = 'vault not found', detail = 'vault_id';
  end if;
  -- Again under the lock, in a statement of its own (a fresh snapshot): a removal or demotion that
  -- committed while this push waited ends it with PT404 / PT403.
  caller_role := private.require_vault_role(push_logs_before.vault_id, 'writer');

  -- Every entry under the current key generation (absent: 1).
  select e.ord - 1 into stale_index
  from jsonb_array_elements(push_logs_before.logs) with ordinality as e(v, ord)
  where coalesce((e.v ->> 'key_generation')::bigint, 1) <> current_generation
  order by e.ord
  limit 1;
  if stale_index is not null then
    raise exception using errcode = 'PT409',
      message = format('logs[%s].key_generation is not the vault''s current key generation %s', stale_index, current_generation),
      detail = format('logs[%s].key_generation', stale_index), hint = 'stale_key_generation';
  end if;

  begin
    -- A compacted id is no longer in sync_logs, so the unique index below cannot catch its re-push:
    -- for a vault ever compacted, one primary-key probe of private.compacted_log_ids per entry
    -- decides. A hit takes the exact path, as a unique violation would. Never-compacted vaults skip it.
    if ever_compacted and exists (
         select from jsonb_to_recordset(push_logs_before.logs) as t(id text)
         join private.compacted_log_ids c on c.vault_id = push_logs_before.vault_id and c.id = t.id::uuid) then
      raise unique_violation;
    end if;
    -- Common case: no entry is a duplicate, so entry i gets previous_last + i. One statement.
    with input as (
      select coalesce(t.id::uuid, gen_random_uuid()) as id, previous_last + t.ord as sequence,
             t.encrypted_data, t.nonce, t.haex_timestamp, t.record_key
      from rows from (jsonb_to_recordset(push_logs_before.logs)
                        as (id text, encrypted_data text, nonce text, haex_timestamp text, device_id text, record_key text))
           with ordinality as t(id, encrypted_data, nonce, haex_timestamp, device_id, record_key, ord)
    ),
    inserted as (
      insert into public.sync_logs (vault_id, sequence, id, author_id, device_id, encrypted_data, nonce, haex_timestamp,
                                    record_key, key_generation, created_at, wire)
      -- issue 19: device_id is the session's device
      select push_logs_before.vault_id, i.sequence, i.id, uid, device, i.encrypted_data, i.nonce, i.haex_timestamp, i.record_key,
             current_generation, now(),
             -- issue 25: the log's wire JSON, built once here instead of at every pull
             private.log_wire(push_logs_before.vault_id, i.sequence, i.id, uid, device, i.encrypted_data, i.nonce, i.haex_timestamp,
                              now(), i.record_key, current_generation)
      from input i
      returning id, sequence, octet_length(encrypted_data) + octet_length(nonce) + octet_length(haex_timestamp) as bytes,
                record_key
    ),
    totals as (
      select count(*) as n, coalesce(sum(n.bytes), 0) as bytes, count(n.record_key) as keyed,
             jsonb_agg(jsonb_build_object('id', n.id, 'sequence', n.sequence, 'duplicate', false) order by n.sequence) as r
      from inserted n
    ),
    counters as (
      update public.vaults v
      set last_sequence = previous_last + t.n, bytes = v.bytes + t.bytes, updated_at = now(),
          keyed_logs_since_compaction = v.keyed_logs_since_compaction + t.keyed
      from totals t
      where v.id = push_logs_before.vault_id and t.n > 0
      returning private.compaction_due(v.last_sequence, v.compacted_logs, v.keyed_logs_since_compaction) as due
    )
    select t.n, t.r, (select c.due from counters c) into new_count, results, due from totals t;
    if due then
      due := private.take_compaction_lease(push_logs_before.vault_id);  -- one pusher at a time is told
    end if;
    return private.push_answer(previous_last + new_count, results, due);
  exception when unique_violation then
    null; -- a duplicate id: this attempt is undone; number the batch the exact way below
  end;

  -- Exact path, for a batch with duplicates: each entry probes the (vault_id, id) index; new ids
  -- are numbered in input order, an id repeated in the batch is stored once (first occurrence).
  with input as materialized (
    select e.ord, coalesce((e.v ->> 'id')::uuid, gen_random_uuid()) as id, e.v
    from jsonb_array_elements(push_logs_before.logs) with ordinality as e(v, ord)
  ),
  classified as materialized (
    select i.ord, i.id, i.v,
           min(i.ord) over (partition by i.id) as first_ord,
           -- A scalar subquery stays one probe of the (vault_id, id) index per entry. A plain or
           -- LATERAL join gets flattened and was planned as a hash join reading every log of the
           -- vault, so push time grew with the vault (bench/profile-growth.ts).
           coalesce((select old.sequence from public.sync_logs old
                     where old.vault_id = push_logs_before.vault_id and old.id = i.id),
                    case when ever_compacted then
                      (select gone.sequence from private.compacted_log_ids gone
                       where gone.vault_id = push_logs_before.vault_id and gone.id = i.id) end) as existing_sequence
    from input i
  ),
  fresh as materialized (
    select c.ord, c.id, c.v, previous_last + row_number() over (order by c.ord) as sequence
    from classified c
    where c.existing_sequence is null and c.ord = c.first_ord
  ),
  inserted as (
    insert into public.sync_logs (vault_id, sequence, id, author_id, device_id, encrypted_data, nonce, haex_timestamp,
                                  record_key, key_generation, created_at, wire)
    -- issue 19: device_id is the session's device
    select push_logs_before.vault_id, f.sequence, f.id, uid, device, f.v ->> 'encrypted_data', f.v ->> 'nonce',
           f.v ->> 'haex_timestamp', f.v ->> 'record_key', current_generation, now(),
           -- issue 25: the log's wire JSON
           private.log_wire(push_logs_before.vault_id, f.sequence, f.id, uid, device, f.v ->> 'encrypted_data', f.v ->> 'nonce',
                            f.v ->> 'haex_timestamp', now(), f.v ->> 'record_key', current_generation)
    from fresh f
    order by f.sequence
    returning octet_length(encrypted_data) + octet_length(nonce) + octet_length(haex_timestamp) as bytes, record_key
  )
  select (select count(*) from inserted),
         (select coalesce(sum(n.bytes), 0) from inserted n),
         (select count(n.record_key) from inserted n),
         (select jsonb_agg(jsonb_build_object(
                   'id', c.id,
                   'sequence', coalesce(c.existing_sequence, f.sequence),
                   'duplicate', c.existing_sequence is not null or c.ord <> c.first_ord)
                 order by c.ord)
          from classified c
          left join fresh f on f.id = c.id)
  into new_count, new_bytes, new_keyed, results;

  if new_count > 0 then
    update public.vaults v
    set last_sequence = previous_last + new_count,
        bytes = v.bytes + new_bytes,
        updated_at = now(),
        keyed_logs_since_compaction = v.keyed_logs_since_compaction + new_keyed
    where v.id = push_logs_before.vault_id
    returning private.compaction_due(v.last_sequence, v.compacted_logs, v.keyed_logs_since_compaction) into due;
    if due then
      due := private.take_compaction_lease(push_logs_before.vault_id);
    end if;
  end if;

  return private.push_answer(previous_last + new_count, results, due);
end
$function$;
