create or replace function public.set_default_vault_quota (
  quota_bytes bigint
)
  returns void
  language sql
  set search_path to ''
  AS $function$
  insert into private.quota_settings as s (singleton, default_vault_quota_bytes) values (true, set_default_vault_quota.quota_bytes)
  on conflict (singleton) do update set default_vault_quota_bytes = excluded.default_vault_quota_bytes
$function$;

comment on function "public"."set_default_vault_quota"(bigint) is 'API for the service role only: the default per-vault byte quota (null: none). The embedded stack calls it with config.toml [haex] vault_quota_bytes at start. SECURITY INVOKER, executable by service_role alone.';

revoke all on function "public"."set_default_vault_quota"(bigint) from public;

grant execute on function "public"."set_default_vault_quota"(bigint) to "postgres", "service_role";
