create or replace function public.list_vault_usage()
  returns table (
    vault_id    uuid,
    log_bytes   bigint,
    file_bytes  bigint,
    used_bytes  bigint,
    quota_bytes bigint
  )
  language sql
  stable
  set search_path to ''
  AS $function$
  select v.id, v.bytes, u.file_bytes, v.bytes + u.file_bytes, u.quota_bytes
  from public.vaults v
  cross join lateral private.vault_file_bytes_and_quota(v.id) u
  where v.id in (select private.member_vault_ids())
  order by v.created_at, v.id
$function$;

comment on function "public"."list_vault_usage"() is 'API: per vault the caller is a member of: bytes of live logs, of files, their sum and the quota (null: none). listVaults() merges it. SECURITY INVOKER; RLS applies.';

revoke all on function "public"."list_vault_usage"() from public;

grant execute on function "public"."list_vault_usage"() to "authenticated", "postgres", "service_role";
