-- A candidate shape for public.push_logs, measured by bench/profile-push.ts (PROFILE_CANDIDATE=1)
-- in the throwaway database only; not a migration. Same contract on the happy path:
--   * one typed pass over the input (jsonb_to_recordset) instead of jsonb_array_elements + ->> per field;
--   * one cheap aggregate decides "all valid?"; only an invalid push pays for the detailed,
--     field-by-field diagnosis (here: delegated to the real push_logs, which raises the precise error);
--   * the duplicate check probes the (vault_id, id) index once per input row (scalar subquery), so it never
--     reads the vault's other logs, whatever the statistics say.
create schema if not exists bench;
create or replace function bench.push_logs_candidate(vault_id uuid, logs jsonb) returns jsonb
language plpgsql volatile security definer set search_path = '' as $$
declare
  uid uuid := auth.uid();
  previous_last bigint;
  new_count bigint;
  new_bytes bigint;
  results jsonb;
  ok boolean;
begin
  if uid is null or logs is null or jsonb_typeof(logs) <> 'array'
     or jsonb_array_length(logs) not between 1 and 1000 then
    return public.push_logs(vault_id, logs); -- the precise error
  end if;
  select bool_and(jsonb_typeof(e) = 'object'
                  and jsonb_typeof(e -> 'encrypted_data') = 'string'
                  and jsonb_typeof(e -> 'nonce') = 'string'
                  and jsonb_typeof(e -> 'haex_timestamp') = 'string'
                  and coalesce(jsonb_typeof(e -> 'id'), 'null') in ('null', 'string')
                  and coalesce(jsonb_typeof(e -> 'device_id'), 'null') in ('null', 'string'))
  into ok from jsonb_array_elements(logs) e;
  if ok then
    select bool_and(
             (t.id is null or t.id ~ '^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$')
             and length(t.encrypted_data) between 4 and 524288 and length(t.encrypted_data) % 4 = 0
             and t.encrypted_data ~ '^[A-Za-z0-9+/]*={0,2}$'
             and length(t.nonce) between 1 and 64 and length(t.haex_timestamp) between 1 and 128
             and coalesce(length(t.device_id), 0) <= 128),
           sum(length(t.encrypted_data)) <= 16777216 and ok
    into ok, ok
    from jsonb_to_recordset(logs) as t(id text, encrypted_data text, nonce text, haex_timestamp text, device_id text);
  end if;
  if not ok then
    return public.push_logs(vault_id, logs); -- the precise error
  end if;

  select v.last_sequence into previous_last from public.vaults v
  where v.id = push_logs_candidate.vault_id and v.owner_id = uid for update;
  if not found then
    raise exception using errcode = 'PT404', message = 'vault not found', detail = 'vault_id';
  end if;

  with input as materialized (
    select t.ord, coalesce(t.id::uuid, gen_random_uuid()) as id, t.encrypted_data, t.nonce, t.haex_timestamp, t.device_id
    from rows from (jsonb_to_recordset(logs) as (id text, encrypted_data text, nonce text, haex_timestamp text, device_id text))
         with ordinality as t(id, encrypted_data, nonce, haex_timestamp, device_id, ord)
  ),
  classified as materialized (
    select i.*, min(i.ord) over (partition by i.id) as first_ord,
           -- a scalar subquery stays a per-row index probe (a plain or LATERAL join gets flattened
           -- and may be planned as a hash join that reads every log of the vault)
           (select o.sequence from public.sync_logs o
            where o.vault_id = push_logs_candidate.vault_id and o.id = i.id) as existing_sequence
    from input i
  ),
  fresh as materialized (
    select c.*, previous_last + row_number() over (order by c.ord) as sequence
    from classified c where c.existing_sequence is null and c.ord = c.first_ord
  ),
  inserted as (
    insert into public.sync_logs (vault_id, sequence, id, author_id, device_id, encrypted_data, nonce, haex_timestamp)
    select push_logs_candidate.vault_id, f.sequence, f.id, uid, f.device_id, f.encrypted_data, f.nonce, f.haex_timestamp
    from fresh f order by f.sequence
    returning octet_length(encrypted_data) + octet_length(nonce) + octet_length(haex_timestamp) as bytes
  )
  select (select count(*) from inserted), (select coalesce(sum(n.bytes), 0) from inserted n),
         (select jsonb_agg(jsonb_build_object('id', c.id, 'sequence', coalesce(c.existing_sequence, f.sequence),
                                              'duplicate', c.existing_sequence is not null or c.ord <> c.first_ord)
                           order by c.ord)
          from classified c left join fresh f on f.ord = c.ord)
  into new_count, new_bytes, results;

  if new_count > 0 then
    update public.vaults v set last_sequence = previous_last + new_count, bytes = v.bytes + new_bytes, updated_at = now()
    where v.id = push_logs_candidate.vault_id;
  end if;
  return jsonb_build_object('last_sequence', previous_last + new_count, 'results', results);
end
$$;
grant usage on schema bench to authenticated;
grant execute on function bench.push_logs_candidate(uuid, jsonb) to authenticated;
