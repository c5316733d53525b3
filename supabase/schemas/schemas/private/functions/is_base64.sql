create or replace function private.is_base64 (
  value text
)
  returns boolean
  language sql
  immutable
  parallel safe
  set search_path to ''
  AS $function$
  select length(value) > 0 and length(value) % 4 = 0 and value ~ '^[A-Za-z0-9+/]*={0,2}$'
$function$;

comment on function "private"."is_base64"(text) is 'Non-empty, padded standard base64 (RFC 4648 section 4)?';

revoke all on function "private"."is_base64"(text) from public;

grant execute on function "private"."is_base64"(text) to "postgres";
