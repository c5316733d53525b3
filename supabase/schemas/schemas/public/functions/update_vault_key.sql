create or replace function public.update_vault_key (
  vault_id            uuid,
  encrypted_vault_key text,
  salt                text,
  nonce               text,
  if_updated_at       timestamp with time zone
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
  security definer
  set search_path to ''
  AS $function$
  select k.vault_id, k.encrypted_vault_key, k.salt, k.nonce, k.created_at, k.updated_at, k.key_generation
  from private.update_vault_key(update_vault_key.vault_id, update_vault_key.encrypted_vault_key,
    update_vault_key.salt, update_vault_key.nonce, update_vault_key.if_updated_at) as k
$function$;

comment on function "public"."update_vault_key"(uuid, text, text, text, timestamp with time zone) is 'API: replaces the caller''s encrypted vault key (after a password change) if it is still at if_updated_at (else PT409); PT404 when absent or not the caller''s; answers the key generation it holds. SECURITY DEFINER because vault_keys has no write grants.';

revoke all on function "public"."update_vault_key"(uuid, text, text, text, timestamp with time zone) from public;

grant execute on function "public"."update_vault_key"(uuid, text, text, text, timestamp with time zone) to "authenticated", "postgres", "service_role";
