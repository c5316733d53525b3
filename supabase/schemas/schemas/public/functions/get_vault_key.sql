create or replace function public.get_vault_key (
  vault_id uuid
)
  returns table (
    vault_id            uuid,
    encrypted_vault_key text,
    salt                text,
    nonce               text,
    created_at          timestamp with time zone,
    updated_at          timestamp with time zone,
    key_generation      bigint
  )
  language sql
  stable
  security definer
  set search_path to ''
  AS $function$
  select k.vault_id, k.encrypted_vault_key, k.salt, k.nonce, k.created_at, k.updated_at, k.key_generation
  from private.get_vault_key(get_vault_key.vault_id) as k
$function$;

comment on function "public"."get_vault_key"(uuid) is 'API: the caller''s encrypted key of a vault and the key generation it holds; PT404 when absent or not the caller''s. SECURITY DEFINER to run the private implementation, which checks the caller explicitly.';

revoke all on function "public"."get_vault_key"(uuid) from public;

grant execute on function "public"."get_vault_key"(uuid) to "authenticated", "postgres", "service_role";
