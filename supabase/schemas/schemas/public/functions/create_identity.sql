create or replace function public.create_identity (
  encryption_public_key  text,
  signing_public_key     text,
  signature              text,
  encrypted_private_keys text,
  salt                   text,
  nonce                  text
)
  returns void
  language plpgsql
  security definer
  set search_path to ''
  AS $function$
declare
  uid uuid := private.require_uid();  -- PT401 without a user, an ended session or a deleted account
begin
  perform private.check_key_field('encryption_public_key', create_identity.encryption_public_key, 44);
  perform private.check_key_field('signing_public_key', create_identity.signing_public_key, 44);
  perform private.check_key_field('signature', create_identity.signature, 88);
  perform private.check_key_field('encrypted_private_keys', create_identity.encrypted_private_keys, 1024);
  perform private.check_key_field('salt', create_identity.salt, 64);
  perform private.check_key_field('nonce', create_identity.nonce, 24);
  if length(create_identity.encryption_public_key) <> 44 or length(create_identity.signing_public_key) <> 44
     or length(create_identity.signature) <> 88 then
    raise exception using errcode = 'PT400', message = 'public keys must be 32 bytes and the signature 64 bytes',
      detail = 'signature';
  end if;
  insert into public.identities (user_id, encryption_public_key, signing_public_key, signature)
  values (uid, create_identity.encryption_public_key, create_identity.signing_public_key, create_identity.signature)
  on conflict do nothing;
  if not found then
    raise exception using errcode = 'PT409', message = 'this user already has an identity', detail = 'identity',
      hint = 'identity_exists';
  end if;
  insert into public.identity_private_keys (user_id, encrypted_private_keys, salt, nonce)
  values (uid, create_identity.encrypted_private_keys, create_identity.salt, create_identity.nonce);
end
$function$;

comment on function "public"."create_identity"(text, text, text, text, text, text) is 'API: stores the caller''s identity (public keys, self-signature, wrapped private keys) once; PT409 hint identity_exists when present. SECURITY DEFINER because the tables have no write grants; the row is the caller''s (private.caller_id()).';

revoke all on function "public"."create_identity"(text, text, text, text, text, text) from public;

grant execute on function "public"."create_identity"(text, text, text, text, text, text) to "authenticated", "postgres", "service_role";
