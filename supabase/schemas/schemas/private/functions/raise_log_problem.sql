create or replace function private.raise_log_problem (
  encrypted_data  text[],
  nonces          text[],
  haex_timestamps text[],
  record_keys     text[],
  key_generations bigint[],
  shapes          text[] default null::text[]
)
  returns void
  language plpgsql
  stable
  set search_path to ''
  AS $function$
declare
  lim private.limit_set := private.limits();
  bad_index bigint;        -- index (0-based) of the first invalid entry
  problem text[];          -- {field suffix, SQLSTATE, complaint, hint} of that entry
begin
  -- The rules of one pushed log, field by field in this order; the first invalid entry sorts first.
  -- push_log_columns' fast check accepts exactly what this accepts. shapes[i] carries what only
  -- push_logs' JSON can get wrong ('object': not a JSON object; 'id': not a uuid; 'device_id'), at
  -- its place in the order; push_logs passes a value of the wrong JSON type as one this refuses
  -- with that field's complaint (null, '' or 0).
  select c.i, c.p
  into bad_index, problem
  from (
    select t.ord - 1 as i,
           case
             when t.shape = 'object' then
               array['', 'PT400', 'must be an object']
             when t.shape = 'id' then
               array['.id', 'PT400', 'must be a uuid']
             when t.data is null then
               array['.encrypted_data', 'PT400', 'must be a base64 string']
             when length(t.data) > lim.max_log_data_chars then
               array['.encrypted_data', 'PT413', format('must be at most %s characters', lim.max_log_data_chars),
                     format('A log holds at most %s characters of base64 encrypted_data (max_log_data_chars, about %s KiB of ciphertext). '
                            'Split big data into several logs (chunks under the limit, each its own change), '
                            'or keep it in file storage (e.g. Supabase Storage) and sync a reference to it.',
                            lim.max_log_data_chars, lim.max_log_data_chars / 4 * 3 / 1024)]
             when not private.is_base64(t.data) then
               array['.encrypted_data', 'PT400', 'must be non-empty base64']
             when t.nonce is null or length(t.nonce) not between 1 and lim.max_log_nonce_chars then
               array['.nonce', 'PT400', format('must be 1 to %s characters', lim.max_log_nonce_chars)]
             when t.ts is null or length(t.ts) not between 1 and lim.max_haex_timestamp_chars then
               array['.haex_timestamp', 'PT400', format('must be 1 to %s characters', lim.max_haex_timestamp_chars)]
             when t.shape = 'device_id' then
               array['.device_id', 'PT400', format('must be a string of at most %s characters', lim.max_device_id_chars)]
             when t.rk !~ '^[A-Za-z0-9_-]{1,64}$' then
               array['.record_key', 'PT400', 'must be null or 1 to 64 base64url characters (A-Z a-z 0-9 - _, no padding)']
             when t.kg not between 1 and 999999999999999999 then
               array['.key_generation', 'PT400', 'must be null or a positive integer']
           end as p
    from unnest(raise_log_problem.encrypted_data, raise_log_problem.nonces, raise_log_problem.haex_timestamps,
                raise_log_problem.record_keys, raise_log_problem.key_generations, raise_log_problem.shapes)
         with ordinality as t(data, nonce, ts, rk, kg, shape, ord)
  ) as c
  order by c.p is null, c.i
  limit 1;

  if problem[4] is not null then
    raise exception using errcode = problem[2],
      message = format('logs[%s]%s %s', bad_index, problem[1], problem[3]),
      detail = format('logs[%s]%s', bad_index, problem[1]), hint = problem[4];
  end if;
  if problem is not null then
    raise exception using errcode = problem[2],
      message = format('logs[%s]%s %s', bad_index, problem[1], problem[3]),
      detail = format('logs[%s]%s', bad_index, problem[1]);
  end if;
end
$function$;

comment on function "private"."raise_log_problem"(text[], text[], text[], text[], bigint[], text[]) is 'The field-naming error (logs[i].field, PT400 / PT413) of the first invalid log of a push, in columns; returns if every log is valid. One definition of the log rules for push_log_columns and push_logs (whose JSON-only problems come in shapes).';

revoke all on function "private"."raise_log_problem"(text[], text[], text[], text[], bigint[], text[]) from public;

grant execute on function "private"."raise_log_problem"(text[], text[], text[], text[], bigint[], text[]) to "postgres";
