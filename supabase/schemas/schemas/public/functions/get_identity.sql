create or replace function public.get_identity()
  returns table (
    user_id                uuid,
    encryption_public_key  text,
    signing_public_key     text,
    signature              text,
    encrypted_private_keys text,
    salt                   text,
    nonce                  text
  )
  language sql
  stable
  set search_path to ''
  AS $function$
  select i.user_id, i.encryption_public_key, i.signing_public_key, i.signature, p.encrypted_private_keys, p.salt, p.nonce
  from public.identity_private_keys p
  join public.identities i on i.user_id = p.user_id
  where p.user_id = (select private.caller_id())
$function$;

comment on function "public"."get_identity"() is 'API: the caller''s identity with its wrapped private keys; no row before create_identity. SECURITY INVOKER; RLS applies.';

revoke all on function "public"."get_identity"() from public;

grant execute on function "public"."get_identity"() to "authenticated", "postgres", "service_role";
