create or replace function public.find_identity (
  email text
)
  returns table (
    user_id               uuid,
    email                 text,
    encryption_public_key text,
    signing_public_key    text,
    signature             text
  )
  language sql
  stable
  security definer
  set search_path to ''
  AS $function$
  select i.user_id, u.email::text, i.encryption_public_key, i.signing_public_key, i.signature
  from auth.users u
  join public.identities i on i.user_id = u.id
  where (select private.caller_id()) is not null
    and u.email = lower(find_identity.email) and u.is_sso_user = false  -- users_email_partial_key; GoTrue stores emails in lower case
  limit 1
$function$;

comment on function "public"."find_identity"(text) is 'API: the identity (public keys and self-signature) of the user with this email, or no row. SECURITY DEFINER to read auth.users; signed-in callers only.';

revoke all on function "public"."find_identity"(text) from public;

grant execute on function "public"."find_identity"(text) to "authenticated", "postgres", "service_role";
