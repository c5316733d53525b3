create or replace function public.set_vault_quota (
  vault_id    uuid,
  quota_bytes bigint
)
  returns void
  language plpgsql
  set search_path to ''
  AS $function$
begin
  if set_vault_quota.vault_id is null then
    raise exception using errcode = 'PT400', message = 'vault_id must not be null', detail = 'vault_id';
  end if;
  if set_vault_quota.quota_bytes is null then
    delete from private.vault_quotas q where q.vault_id = set_vault_quota.vault_id;
    return;
  end if;
  if set_vault_quota.quota_bytes <= 0 then
    raise exception using errcode = 'PT400', message = 'quota_bytes must be positive (null: the default)', detail = 'quota_bytes';
  end if;
  if not exists (select from public.vaults v where v.id = set_vault_quota.vault_id) then
    raise exception using errcode = 'PT404', message = 'vault not found', detail = 'vault_id';
  end if;
  insert into private.vault_quotas as q (vault_id, quota_bytes) values (set_vault_quota.vault_id, set_vault_quota.quota_bytes)
  on conflict on constraint vault_quotas_pkey do update set quota_bytes = excluded.quota_bytes;
end
$function$;

comment on function "public"."set_vault_quota"(uuid, bigint) is 'API for the service role only: sets a vault''s byte quota (null: back to the default). Exposed so that server code can set it through PostgREST; SECURITY INVOKER, executable by service_role alone.';

revoke all on function "public"."set_vault_quota"(uuid, bigint) from public;

grant execute on function "public"."set_vault_quota"(uuid, bigint) to "postgres", "service_role";
