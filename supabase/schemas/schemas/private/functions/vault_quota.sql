create or replace function private.vault_quota (
  p_vault_id uuid
)
  returns bigint
  language sql
  stable
  set search_path to ''
  AS $function$
  select coalesce((select q.quota_bytes from private.vault_quotas q where q.vault_id = p_vault_id),
                  (select s.default_vault_quota_bytes from private.quota_settings s))
$function$;

comment on function "private"."vault_quota"(uuid) is 'The vault''s byte quota: its own, else the default; null when none.';

revoke all on function "private"."vault_quota"(uuid) from public;

grant execute on function "private"."vault_quota"(uuid) to "postgres";
