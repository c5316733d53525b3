create or replace function public.check_vault_quota (
  vault_id uuid,
  bytes    bigint
)
  returns void
  language plpgsql
  stable
  security definer
  set search_path to ''
  AS $function$
declare
  quota bigint;
  used bigint;
begin
  perform private.require_vault_role(check_vault_quota.vault_id, 'writer');
  if check_vault_quota.bytes is null or check_vault_quota.bytes < 0 then
    raise exception using errcode = 'PT400', message = 'bytes must be a non-negative integer', detail = 'bytes';
  end if;
  quota := private.vault_quota(check_vault_quota.vault_id);
  if quota is null then
    return;
  end if;
  used := private.vault_used_bytes(check_vault_quota.vault_id);
  if used + check_vault_quota.bytes > quota then
    raise exception using errcode = 'PT413',
      message = format('%s more bytes do not fit the vault''s quota of %s bytes (%s used)', check_vault_quota.bytes, quota, used),
      detail = 'bytes', hint = 'quota_exceeded';
  end if;
end
$function$;

comment on function "public"."check_vault_quota"(uuid, bigint) is 'API: PT413 hint quota_exceeded unless `bytes` more fit the vault''s quota (writers and above; the client calls it before storing file objects). SECURITY DEFINER: reads the quota and all of the vault''s Storage objects; access through private.require_vault_role.';

revoke all on function "public"."check_vault_quota"(uuid, bigint) from public;

grant execute on function "public"."check_vault_quota"(uuid, bigint) to "authenticated", "postgres", "service_role";
