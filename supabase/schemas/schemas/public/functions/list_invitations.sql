create or replace function public.list_invitations()
  returns table (
    id                            uuid,
    vault_id                      uuid,
    role                          text,
    key_generation                bigint,
    expires_at                    timestamp with time zone,
    created_at                    timestamp with time zone,
    inviter_id                    uuid,
    inviter_email                 text,
    inviter_encryption_public_key text,
    inviter_signing_public_key    text,
    inviter_signature             text
  )
  language sql
  stable
  security definer
  set search_path to ''
  AS $function$
  select i.id, i.vault_id, i.role, i.key_generation, i.expires_at, i.created_at, i.inviter_id, u.email::text,
         k.encryption_public_key, k.signing_public_key, k.signature
  from public.vault_invitations i
  join auth.users u on u.id = i.inviter_id
  left join public.identities k on k.user_id = i.inviter_id
  where i.invitee_id = (select private.caller_id()) and i.status = 'pending' and i.expires_at > now()
  order by i.created_at, i.id
$function$;

comment on function "public"."list_invitations"() is 'API: the caller''s pending, unexpired invitations with the inviter''s email and identity. SECURITY DEFINER to read vault_invitations and auth.users; rows of the caller only.';

revoke all on function "public"."list_invitations"() from public;

grant execute on function "public"."list_invitations"() to "authenticated", "postgres", "service_role";
