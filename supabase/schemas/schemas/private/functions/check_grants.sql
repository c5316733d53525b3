create or replace function private.check_grants (
  field           text,
  grants          jsonb,
  with_recipient  boolean,
  with_generation boolean
)
  returns integer
  language plpgsql
  stable
  set search_path to ''
  AS $function$
declare
  g jsonb;
  i int := 0;
  path text;
begin
  if grants is null or jsonb_typeof(grants) <> 'array' or jsonb_array_length(grants) not between 1 and 1000 then
    raise exception using errcode = 'PT400', message = format('%s must be an array of 1 to 1000 grants', field),
      detail = field;
  end if;
  for g in select e from jsonb_array_elements(grants) as e loop
    path := format('%s[%s]', field, i);
    if jsonb_typeof(g) <> 'object' then
      raise exception using errcode = 'PT400', message = format('%s must be an object', path), detail = path;
    end if;
    if with_recipient and (jsonb_typeof(g -> 'recipient_id') is distinct from 'string'
        or (g ->> 'recipient_id') !~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$') then
      raise exception using errcode = 'PT400', message = format('%s.recipient_id must be a uuid', path),
        detail = path || '.recipient_id';
    end if;
    if with_generation and (jsonb_typeof(g -> 'key_generation') is distinct from 'number'
        or (g ->> 'key_generation') !~ '^[1-9][0-9]{0,17}$') then
      raise exception using errcode = 'PT400', message = format('%s.key_generation must be a positive integer', path),
        detail = path || '.key_generation';
    end if;
    if jsonb_typeof(g -> 'ephemeral_public_key') is distinct from 'string' or length(g ->> 'ephemeral_public_key') <> 44
       or not private.is_base64(g ->> 'ephemeral_public_key') then
      raise exception using errcode = 'PT400', message = format('%s.ephemeral_public_key must be 32 bytes of base64', path),
        detail = path || '.ephemeral_public_key';
    end if;
    if jsonb_typeof(g -> 'nonce') is distinct from 'string' or length(g ->> 'nonce') <> 16
       or not private.is_base64(g ->> 'nonce') then
      raise exception using errcode = 'PT400', message = format('%s.nonce must be 12 bytes of base64', path),
        detail = path || '.nonce';
    end if;
    if jsonb_typeof(g -> 'sealed_key') is distinct from 'string' or length(g ->> 'sealed_key') <> 64
       or not private.is_base64(g ->> 'sealed_key') then
      raise exception using errcode = 'PT400', message = format('%s.sealed_key must be 48 bytes of base64', path),
        detail = path || '.sealed_key';
    end if;
    if jsonb_typeof(g -> 'signature') is distinct from 'string' or length(g ->> 'signature') <> 88
       or not private.is_base64(g ->> 'signature') then
      raise exception using errcode = 'PT400', message = format('%s.signature must be 64 bytes of base64', path),
        detail = path || '.signature';
    end if;
    i := i + 1;
  end loop;
  return i;
end
$function$;

comment on function "private"."check_grants"(text, jsonb, boolean, boolean) is 'Validates an array of sealed grants (shapes only) or raises PT400 naming the first bad field; returns the count.';

revoke all on function "private"."check_grants"(text, jsonb, boolean, boolean) from public;

grant execute on function "private"."check_grants"(text, jsonb, boolean, boolean) to "postgres";
