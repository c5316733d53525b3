create or replace function private.removed_since (
  p_vault_id uuid,
  p_user_id  uuid,
  p_since    timestamp with time zone
)
  returns boolean
  language sql
  stable
  set search_path to ''
  AS $function$
  select exists (select from private.removed_members r
                 where r.vault_id = p_vault_id and r.user_id = p_user_id and r.removed_at >= p_since)
$function$;

comment on function "private"."removed_since"(uuid, uuid, timestamp with time zone) is 'True when the user was removed from (or left) the vault at or after p_since.';

revoke all on function "private"."removed_since"(uuid, uuid, timestamp with time zone) from public;

grant execute on function "private"."removed_since"(uuid, uuid, timestamp with time zone) to "postgres";
