create or replace function private.check_key_field (
  field     text,
  value     text,
  max_chars integer
)
  returns void
  language plpgsql
  stable
  set search_path to ''
  AS $function$
begin
  if value is null then
    raise exception using errcode = 'PT400', message = format('%s must not be null', field), detail = field;
  end if;
  if length(value) < 1 or length(value) > max_chars then
    raise exception using errcode = 'PT400',
      message = format('%s must be 1 to %s characters', field, max_chars), detail = field;
  end if;
  if not private.is_base64(value) then
    raise exception using errcode = 'PT400', message = format('%s must be base64', field), detail = field;
  end if;
end
$function$;

comment on function "private"."check_key_field"(text, text, integer) is 'Validates one vault key field (non-empty base64, length limit) or raises PT400 naming it.';

revoke all on function "private"."check_key_field"(text, text, integer) from public;

grant execute on function "private"."check_key_field"(text, text, integer) to "postgres";
