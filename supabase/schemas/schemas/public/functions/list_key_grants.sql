create or replace function public.list_key_grants (
  vault_id       uuid,
  min_generation bigint default 1
)
  returns table (
    vault_id                     uuid,
    key_generation               bigint,
    recipient_id                 uuid,
    sender_id                    uuid,
    ephemeral_public_key         text,
    nonce                        text,
    sealed_key                   text,
    signature                    text,
    sender_signing_public_key    text,
    sender_encryption_public_key text,
    sender_signature             text
  )
  language sql
  stable
  set search_path to ''
  AS $function$
  select g.vault_id, g.key_generation, g.recipient_id, g.sender_id, g.ephemeral_public_key, g.nonce, g.sealed_key,
         g.signature, s.signing_public_key, s.encryption_public_key, s.signature
  from public.vault_key_grants g
  left join public.identities s on s.user_id = g.sender_id
  where g.vault_id = list_key_grants.vault_id and g.key_generation >= list_key_grants.min_generation
    and g.recipient_id = (select private.caller_id())
  order by g.key_generation
$function$;

comment on function "public"."list_key_grants"(uuid, bigint) is 'API: the caller''s key grants of a vault from min_generation on, with each sender''s published identity (to check the signature). SECURITY INVOKER; RLS applies (members only).';

revoke all on function "public"."list_key_grants"(uuid, bigint) from public;

grant execute on function "public"."list_key_grants"(uuid, bigint) to "authenticated", "postgres", "service_role";
