create or replace function public.push_log_columns (
  vault_id        uuid,
  ids             uuid[],
  encrypted_data  text[],
  nonces          text[],
  haex_timestamps text[],
  record_keys     text[] default null::text[],
  key_generations bigint[] default null::bigint[]
)
  returns jsonb
  language plpgsql
  security definer
  set search_path to ''
  AS $function$
-- The push (issue 25, item 3): log i of the batch is element i of every array (0-based in errors,
-- which name it logs[i].field as push_logs does). Arrays as PostgREST binds them from a JSON body
-- (json_to_recordset), so a push is one typed pass over columns: no per-entry JSON parsing. A null
-- id is generated; record_keys and key_generations may be left out (all null: no key, generation 1).
-- What PostgREST cannot bind (a malformed uuid or integer) it refuses before this runs (400, 22P02).
declare
  uid uuid := private.caller_id();
  caller_role text;
  device text;             -- issue 19: the pushing session's device (private.caller_device), set server-side
  current_generation bigint;
  stale_index bigint;
  lim private.limit_set := private.limits();
  entry_count int := cardinality(push_log_columns.encrypted_data);
  all_valid boolean;
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
  if push_log_columns.vault_id is null then
    raise exception using errcode = 'PT400', message = 'vault_id must not be null', detail = 'vault_id';
  end if;
  if coalesce(array_ndims(push_log_columns.encrypted_data), 1) <> 1 or coalesce(entry_count, 0) < 1 then
    raise exception using errcode = 'PT400',
      message = format('encrypted_data must be an array of 1 to %s entries (one per log)', lim.max_logs_per_push),
      detail = 'encrypted_data';
  end if;
  if entry_count > lim.max_logs_per_push then
    raise exception using errcode = 'PT413',
      message = format('encrypted_data must be an array of 1 to %s entries (one per log)', lim.max_logs_per_push),
      detail = 'encrypted_data';
  end if;
  -- Every other column: one dimension, one element per log (null elements allowed where a field may be null).
  if push_log_columns.ids is null or array_ndims(push_log_columns.ids) <> 1 or cardinality(push_log_columns.ids) <> entry_count then
    raise exception using errcode = 'PT400', message = 'ids must have one element per log (null: generated)', detail = 'ids';
  end if;
  if push_log_columns.nonces is null or array_ndims(push_log_columns.nonces) <> 1 or cardinality(push_log_columns.nonces) <> entry_count then
    raise exception using errcode = 'PT400', message = 'nonces must have one element per log', detail = 'nonces';
  end if;
  if push_log_columns.haex_timestamps is null or array_ndims(push_log_columns.haex_timestamps) <> 1
     or cardinality(push_log_columns.haex_timestamps) <> entry_count then
    raise exception using errcode = 'PT400', message = 'haex_timestamps must have one element per log', detail = 'haex_timestamps';
  end if;
  if array_ndims(push_log_columns.record_keys) <> 1 or cardinality(push_log_columns.record_keys) <> entry_count then
    raise exception using errcode = 'PT400', message = 'record_keys must be null or have one element per log', detail = 'record_keys';
  end if;
  if array_ndims(push_log_columns.key_generations) <> 1 or cardinality(push_log_columns.key_generations) <> entry_count then
    raise exception using errcode = 'PT400', message = 'key_generations must be null or have one element per log',
      detail = 'key_generations';
  end if;

  -- Validate every log before taking the lock (a short critical section). The fast check accepts
  -- exactly what private.raise_log_problem accepts (its rules written out: no function call per
  -- log; the base64 test only passes ASCII, where octet_length = length); only a refused push pays
  -- for the field-by-field diagnosis.
  select bool_and(coalesce(
           octet_length(t.data) between 1 and lim.max_log_data_chars
           and octet_length(t.data) % 4 = 0
           and t.data ~ '^[A-Za-z0-9+/]*={0,2}$'
           and length(t.nonce) between 1 and lim.max_log_nonce_chars
           and length(t.ts) between 1 and lim.max_haex_timestamp_chars
           and (t.rk is null or t.rk ~ '^[A-Za-z0-9_-]{1,64}$')
           and (t.kg is null or t.kg between 1 and 999999999999999999),
           false)),
         sum(octet_length(t.data))  -- = length() once all are valid base64
  into all_valid, total_data_chars
  from unnest(push_log_columns.encrypted_data, push_log_columns.nonces, push_log_columns.haex_timestamps,
              push_log_columns.record_keys, push_log_columns.key_generations) as t(data, nonce, ts, rk, kg);
  if not all_valid then
    perform private.raise_log_problem(push_log_columns.encrypted_data, push_log_columns.nonces,
      push_log_columns.haex_timestamps, push_log_columns.record_keys, push_log_columns.key_generations);
  end if;
  if total_data_chars > lim.max_push_data_chars then
    raise exception using errcode = 'PT413',
      message = format('logs: encrypted_data must total at most %s characters per push', lim.max_push_data_chars),
      detail = 'logs',
      hint = 'Push the logs in several smaller batches (the client library does so by itself).';
  end if;

  -- Membership before the lock: a non-member never takes (or waits for) the lock of a vault.
  caller_role := private.require_vault_role(push_log_columns.vault_id, 'writer');

  -- issue 19: the device, looked up (or registered) once, outside the vault lock.
  device := (private.caller_device(uid)).id::text;

  -- The vault's push lock, held to commit (see the header). A statement of its own: the statements
  -- after it take a new snapshot, which sees the logs of every push that held the lock before, and
  -- every membership change committed before (those take this lock too).
  select v.last_sequence, v.compacted_logs > 0, v.key_generation into previous_last, ever_compacted, current_generation
  from public.vaults v
  where v.id = push_log_columns.vault_id
  for update;
  if not found then
    raise exception using errcode = 'PT404', message = 'vault not found', detail = 'vault_id';
  end if;
  -- Again under the lock, in a statement of its own (a fresh snapshot): a removal or demotion that
  -- committed while this push waited ends it with PT404 / PT403.
  caller_role := private.require_vault_role(push_log_columns.vault_id, 'writer');

  -- Every log under the current key generation (absent: 1).
  if push_log_columns.key_generations is null then
    stale_index := case when current_generation <> 1 then 0 end;
  else
    select k.ord - 1 into stale_index
    from unnest(push_log_columns.key_generations) with ordinality as k(generation, ord)
    where coalesce(k.generation, 1) <> current_generation
    order by k.ord
    limit 1;
  end if;
  if stale_index is not null then
    raise exception using errcode = 'PT409',
      message = format('logs[%s].key_generation is not the vault''s current key generation %s', stale_index, current_generation),
      detail = format('logs[%s].key_generation', stale_index), hint = 'stale_key_generation';
  end if;

  -- A null id gets a generated one here, once, so that the statements below read ids as they are.
  if array_position(push_log_columns.ids, null) is not null then
    push_log_columns.ids := array(select coalesce(g.id, gen_random_uuid())
                                  from unnest(push_log_columns.ids) with ordinality as g(id, ord) order by g.ord);
  end if;

  begin
    -- A compacted id is no longer in sync_logs, so the unique index below cannot catch its re-push:
    -- for a vault ever compacted, one primary-key probe of private.compacted_log_ids per log
    -- decides. A hit takes the exact path, as a unique violation would. Never-compacted vaults skip it.
    if ever_compacted and exists (
         select from unnest(push_log_columns.ids) as t(id)
         join private.compacted_log_ids c on c.vault_id = push_log_columns.vault_id and c.id = t.id) then
      raise unique_violation;
    end if;
    -- Common case: no log is a duplicate, so log i gets previous_last + i. One statement, straight
    -- from the arrays (ids has no nulls by now, see above: nothing volatile, nothing materialized).
    with inserted as (
      insert into public.sync_logs as l (vault_id, sequence, id, author_id, device_id, encrypted_data, nonce, haex_timestamp,
                                    record_key, key_generation, created_at, wire)
      -- issue 19: device_id is the session's device
      select push_log_columns.vault_id, previous_last + t.ord, t.id, uid, device, t.data, t.nonce, t.ts, t.rk,
             current_generation, now(),
             -- issue 25: the log's wire JSON, built once here instead of at every pull
             private.log_wire(push_log_columns.vault_id, previous_last + t.ord, t.id, uid, device, t.data, t.nonce, t.ts, now(),
                              t.rk, current_generation)
      from unnest(push_log_columns.ids, push_log_columns.encrypted_data, push_log_columns.nonces,
                  push_log_columns.haex_timestamps, push_log_columns.record_keys)
           with ordinality as t(id, data, nonce, ts, rk, ord)
      returning l.id, l.sequence, octet_length(l.encrypted_data) + octet_length(l.nonce) + octet_length(l.haex_timestamp) as bytes,
                l.record_key
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
      where v.id = push_log_columns.vault_id and t.n > 0
      returning private.compaction_due(v.last_sequence, v.compacted_logs, v.keyed_logs_since_compaction) as due
    )
    select t.n, t.r, (select c.due from counters c) into new_count, results, due from totals t;
    if due then
      due := private.take_compaction_lease(push_log_columns.vault_id);  -- one pusher at a time is told
    end if;
    return private.push_answer(previous_last + new_count, results, due);
  exception when unique_violation then
    null; -- a duplicate id: this attempt is undone; number the batch the exact way below
  end;

  -- Exact path, for a batch with duplicates: each log probes the (vault_id, id) index; new ids
  -- are numbered in input order, an id repeated in the batch is stored once (first occurrence).
  with input as materialized (
    select t.ord, t.id, t.data, t.nonce, t.ts, t.rk
    from unnest(push_log_columns.ids, push_log_columns.encrypted_data, push_log_columns.nonces,
                push_log_columns.haex_timestamps, push_log_columns.record_keys)
         with ordinality as t(id, data, nonce, ts, rk, ord)
  ),
  classified as materialized (
    select i.ord, i.id, i.data, i.nonce, i.ts, i.rk,
           min(i.ord) over (partition by i.id) as first_ord,
           -- A scalar subquery stays one probe of the (vault_id, id) index per log. A plain or
           -- LATERAL join gets flattened and was planned as a hash join reading every log of the
           -- vault, so push time grew with the vault (bench/profile-growth.ts).
           coalesce((select old.sequence from public.sync_logs old
                     where old.vault_id = push_log_columns.vault_id and old.id = i.id),
                    case when ever_compacted then
                      (select gone.sequence from private.compacted_log_ids gone
                       where gone.vault_id = push_log_columns.vault_id and gone.id = i.id) end) as existing_sequence
    from input i
  ),
  fresh as materialized (
    select c.ord, c.id, c.data, c.nonce, c.ts, c.rk, previous_last + row_number() over (order by c.ord) as sequence
    from classified c
    where c.existing_sequence is null and c.ord = c.first_ord
  ),
  inserted as (
    insert into public.sync_logs as l (vault_id, sequence, id, author_id, device_id, encrypted_data, nonce, haex_timestamp,
                                  record_key, key_generation, created_at, wire)
    -- issue 19: device_id is the session's device
    select push_log_columns.vault_id, f.sequence, f.id, uid, device, f.data, f.nonce, f.ts, f.rk, current_generation, now(),
           -- issue 25: the log's wire JSON
           private.log_wire(push_log_columns.vault_id, f.sequence, f.id, uid, device, f.data, f.nonce, f.ts, now(), f.rk,
                            current_generation)
    from fresh f
    order by f.sequence
    returning octet_length(l.encrypted_data) + octet_length(l.nonce) + octet_length(l.haex_timestamp) as bytes, l.record_key
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
    where v.id = push_log_columns.vault_id
    returning private.compaction_due(v.last_sequence, v.compacted_logs, v.keyed_logs_since_compaction) into due;
    if due then
      due := private.take_compaction_lease(push_log_columns.vault_id);
    end if;
  end if;

  return private.push_answer(previous_last + new_count, results, due);
end
$function$;

comment on function "public"."push_log_columns"(uuid, uuid[], text[], text[], text[], text[], bigint[]) is 'API: the push (what push_logs does, one definition): appends encrypted logs given as columns (log i = element i of ids, encrypted_data, nonces, haex_timestamps, record_keys, key_generations; a null id is generated, record_keys / key_generations may be null) to a vault the caller may write (owner, admin, writer; reader: PT403; non-member: PT404), numbering them gap-free under the vault row lock; every log under the vault''s current key generation (else PT409 hint stale_key_generation); idempotent by log id, also for ids compaction removed; invalid logs: PT400 / PT413 naming logs[i].field; says compaction_due: true to one pusher at a time; device_id is the pushing session''s device. Exposed because it is the fast push: PostgREST binds the arrays from the JSON body, no per-entry JSON. SECURITY DEFINER because sync_logs and vaults have no write grants; access through private.require_vault_role (the caller through private.caller_id: a live session).';

revoke all on function "public"."push_log_columns"(uuid, uuid[], text[], text[], text[], text[], bigint[]) from public;

grant execute on function "public"."push_log_columns"(uuid, uuid[], text[], text[], text[], text[], bigint[]) to "authenticated", "postgres", "service_role";
