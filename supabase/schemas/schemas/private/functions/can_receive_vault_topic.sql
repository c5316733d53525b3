create or replace function private.can_receive_vault_topic (
  topic text
)
  returns boolean
  language sql
  stable
  security definer
  set search_path to ''
  AS $function$
  -- CASE: the cast runs only on a topic that is a uuid (AND does not promise an order).
  select case when topic ~ '^vault:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
    then substr(topic, 7)::uuid in (select private.member_vault_ids())
    else false end
$function$;

comment on function "private"."can_receive_vault_topic"(text) is 'True when topic is vault:<id> (lower-case uuid) of a vault the caller is a member of.';

revoke all on function "private"."can_receive_vault_topic"(text) from public;

grant execute on function "private"."can_receive_vault_topic"(text) to "authenticated", "postgres";
