create or replace function private.require_arg (
  field text,
  value anyelement
)
  returns anyelement
  language plpgsql
  stable
  set search_path to ''
  AS $function$
begin
  if value is null then
    raise exception using errcode = 'PT400', message = format('%s must not be null', field), detail = field;
  end if;
  return value;
end
$function$;

comment on function "private"."require_arg"(text, anyelement) is 'Returns `value`, or raises PT400 naming `field` when it is null.';

revoke all on function "private"."require_arg"(text, anyelement) from public;

grant execute on function "private"."require_arg"(text, anyelement) to "postgres";
