create or replace function private.vault_file_bytes_and_quota (
  p_vault_id uuid,
  OUT        file_bytes bigint,
  OUT        quota_bytes bigint
)
  returns record
  language sql
  stable
  security definer
  set search_path to ''
  AS $function$
  select coalesce((select s.file_bytes from private.vault_file_state s where s.vault_id = p_vault_id), 0),
         private.vault_quota(p_vault_id)
  where p_vault_id in (select private.member_vault_ids())
$function$;

comment on function "private"."vault_file_bytes_and_quota"(uuid) is 'A vault''s file bytes and quota, for a member of it (no row otherwise).';

revoke all on function "private"."vault_file_bytes_and_quota"(uuid) from public;

grant execute on function "private"."vault_file_bytes_and_quota"(uuid) to "authenticated", "postgres";
