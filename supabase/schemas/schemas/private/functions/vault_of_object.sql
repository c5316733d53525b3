create or replace function private.vault_of_object (
  object_name text
)
  returns uuid
  language sql
  immutable
  set search_path to ''
  AS $function$
  select case when object_name ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/'
    then substr(object_name, 1, 36)::uuid end
$function$;

comment on function "private"."vault_of_object"(text) is 'The vault id of a vault-files object name (<vault_id>/...), null for any other name.';

revoke all on function "private"."vault_of_object"(text) from public;

grant execute on function "private"."vault_of_object"(text) to "authenticated", "postgres";
