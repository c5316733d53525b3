create or replace function public.push_logs (
  vault_id uuid,
  logs     jsonb
)
  returns jsonb
  language plpgsql
  security definer
  set search_path to ''
  AS $function$
-- The push for callers that send logs as JSON objects (supabase-js callers before issue 25): one
-- typed read turns the array into columns and public.push_log_columns, the one definition of the
-- push, does the rest. Only what JSON can get wrong is checked here (not an array, not an object, a
-- field of the wrong JSON type, the ignored device_id); when something is, a second pass passes a
-- field of the wrong type on as a value push_log_columns refuses with that field's complaint (null,
-- '' or 0), so every error names the same logs[i].field with the same code as before.
declare
  lim private.limit_set := private.limits();
  entry_count int;
  typed boolean;           -- every entry an object, each field of its JSON type
  shaped boolean;          -- some entry has a problem only JSON can have (see shapes)
  ids uuid[];
  encrypted_data text[];
  nonces text[];
  haex_timestamps text[];
  record_keys text[];
  key_generations bigint[];
  shapes text[];
begin
  if push_logs.logs is not null and jsonb_typeof(push_logs.logs) = 'array' then
    entry_count := jsonb_array_length(push_logs.logs);
  end if;
  if entry_count is not null and entry_count between 1 and lim.max_logs_per_push then
    -- Fast path: every entry an object whose fields have their JSON types (one aggregate), then one
    -- typed read of the values (jsonb_to_recordset). Anything else takes the pass below, which names it.
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
             and jsonb_typeof(e.v -> 'nonce') = 'string'
             and jsonb_typeof(e.v -> 'haex_timestamp') = 'string'
             and (case jsonb_typeof(e.v -> 'device_id')
                    when 'string' then length(e.v ->> 'device_id') <= lim.max_device_id_chars
                    when 'null' then true
                    else e.v -> 'device_id' is null end)
             and coalesce(jsonb_typeof(e.v -> 'record_key'), 'null') in ('string', 'null')
             and (case jsonb_typeof(e.v -> 'key_generation')
                    when 'number' then (e.v ->> 'key_generation') ~ '^[1-9][0-9]{0,17}$'
                    when 'null' then true
                    else e.v -> 'key_generation' is null end),
             false))
    into typed
    from jsonb_array_elements(push_logs.logs) as e(v);
    if typed then
      select array_agg(t.id::uuid), array_agg(t.encrypted_data), array_agg(t.nonce), array_agg(t.haex_timestamp),
             array_agg(t.record_key), array_agg(t.key_generation::bigint)
      into ids, encrypted_data, nonces, haex_timestamps, record_keys, key_generations
      from jsonb_to_recordset(push_logs.logs)
           as t(id text, encrypted_data text, nonce text, haex_timestamp text, record_key text, key_generation text);
      return public.push_log_columns(push_logs.vault_id, ids, encrypted_data, nonces, haex_timestamps, record_keys,
                                     key_generations);
    end if;
    -- A field of the wrong JSON type, or a shape problem: one pass, in array order (a single function
    -- scan feeds the aggregates in order), the wrong type passed on as a value push_log_columns refuses.
    select array_agg(case when jsonb_typeof(e.v -> 'id') = 'string'
                               and octet_length(e.v ->> 'id') = 36
                               and (e.v ->> 'id') like '________-____-____-____-____________'
                               and octet_length(replace(e.v ->> 'id', '-', '')) = 32
                               and (e.v ->> 'id') ~ '^[-0-9A-Fa-f]*$'
                          then (e.v ->> 'id')::uuid end),
           array_agg(case when jsonb_typeof(e.v -> 'encrypted_data') = 'string' then e.v ->> 'encrypted_data' end),
           array_agg(case when jsonb_typeof(e.v -> 'nonce') = 'string' then e.v ->> 'nonce' end),
           array_agg(case when jsonb_typeof(e.v -> 'haex_timestamp') = 'string' then e.v ->> 'haex_timestamp' end),
           array_agg(case coalesce(jsonb_typeof(e.v -> 'record_key'), 'null')
                       when 'string' then e.v ->> 'record_key' when 'null' then null else '' end),
           array_agg(case coalesce(jsonb_typeof(e.v -> 'key_generation'), 'null')
                       when 'number' then case when (e.v ->> 'key_generation') ~ '^[1-9][0-9]{0,17}$'
                                               then (e.v ->> 'key_generation')::bigint else 0 end
                       when 'null' then null else 0 end),
           array_agg(s.shape),
           bool_or(s.shape is not null)
    into ids, encrypted_data, nonces, haex_timestamps, record_keys, key_generations, shapes, shaped
    from jsonb_array_elements(push_logs.logs) as e(v)
    cross join lateral (
      select case
               when jsonb_typeof(e.v) <> 'object' then 'object'
               when coalesce(jsonb_typeof(e.v -> 'id'), 'null') <> 'null'
                    and (jsonb_typeof(e.v -> 'id') <> 'string'
                         or (e.v ->> 'id') !~ '^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$') then 'id'
               when coalesce(jsonb_typeof(e.v -> 'device_id'), 'null') not in ('null', 'string')
                    or length(e.v ->> 'device_id') > lim.max_device_id_chars then 'device_id'
             end as shape
    ) as s;
    if not shaped then
      return public.push_log_columns(push_logs.vault_id, ids, encrypted_data, nonces, haex_timestamps, record_keys,
                                     key_generations);
    end if;
  end if;

  -- Refused: in the order push_log_columns checks (the caller, vault_id, then the logs).
  if private.caller_id() is null then
    raise exception using errcode = 'PT401', message = 'a signed-in user is required', detail = 'authorization';
  end if;
  if push_logs.vault_id is null then
    raise exception using errcode = 'PT400', message = 'vault_id must not be null', detail = 'vault_id';
  end if;
  if entry_count is null then
    raise exception using errcode = 'PT400', message = 'logs must be a JSON array', detail = 'logs';
  end if;
  if entry_count < 1 or entry_count > lim.max_logs_per_push then
    raise exception using errcode = case when entry_count < 1 then 'PT400' else 'PT413' end,
      message = format('logs must contain 1 to %s entries', lim.max_logs_per_push), detail = 'logs';
  end if;
  perform private.raise_log_problem(encrypted_data, nonces, haex_timestamps, record_keys, key_generations, shapes);
  raise exception 'push_logs: an entry has a problem raise_log_problem does not know'; -- unreachable: shapes named one
end
$function$;

comment on function "public"."push_logs"(uuid, jsonb) is 'API: push_log_columns with the logs as a JSON array of objects {id, encrypted_data, nonce, haex_timestamp, device_id (ignored), record_key, key_generation} (kept for supabase-js callers from before issue 25; same answer and errors). Appends encrypted logs (each with an optional opaque record_key and its key_generation, default 1) to a vault the caller may write (owner, admin, writer; reader: PT403; non-member: PT404), numbering them gap-free under the vault row lock; every log must be under the vault''s current key generation (else PT409 hint stale_key_generation); idempotent by log id, also for ids compaction removed; says compaction_due: true to one pusher at a time; device_id is the pushing session''s device, set by the server. SECURITY DEFINER because sync_logs and vaults have no write grants; access through private.require_vault_role (the caller through private.caller_id: a live session).';

revoke all on function "public"."push_logs"(uuid, jsonb) from public;

grant execute on function "public"."push_logs"(uuid, jsonb) to "authenticated", "postgres", "service_role";
