create or replace function public.create_vault (
  vault_id            uuid,
  encrypted_vault_key text,
  salt                text,
  nonce               text
)
  returns table (
    vault_id            uuid,
    encrypted_vault_key text,
    salt                text,
    nonce               text,
    created_at          timestamp with time zone,
    updated_at          timestamp with time zone
  )
  language sql
  security definer
  set search_path to ''
  AS $function$
  select k.vault_id, k.encrypted_vault_key, k.salt, k.nonce, k.created_at, k.updated_at
  from private.create_vault(create_vault.vault_id, create_vault.encrypted_vault_key, create_vault.salt, create_vault.nonce) as k
$function$;

comment on function "public"."create_vault"(uuid, text, text, text) is 'API: creates the caller''s vault with its encrypted key (PT409 when the id exists; PT409 hint vault_deleted when it belonged to a deleted vault). SECURITY DEFINER because the tables have no write grants; owner = auth.uid().';

revoke all on function "public"."create_vault"(uuid, text, text, text) from public;

grant execute on function "public"."create_vault"(uuid, text, text, text) to "authenticated", "postgres", "service_role";
