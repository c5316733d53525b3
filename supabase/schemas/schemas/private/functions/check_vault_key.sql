create or replace function private.check_vault_key (
  encrypted_vault_key text,
  salt                text,
  nonce               text
)
  returns void
  language plpgsql
  stable
  set search_path to ''
  AS $function$
declare
  lim private.limit_set := private.limits();
begin
  perform private.check_key_field('encrypted_vault_key', check_vault_key.encrypted_vault_key, lim.max_encrypted_vault_key_chars);
  perform private.check_key_field('salt', check_vault_key.salt, lim.max_salt_chars);
  perform private.check_key_field('nonce', check_vault_key.nonce, lim.max_key_nonce_chars);
end
$function$;

comment on function "private"."check_vault_key"(text, text, text) is 'Validates the three fields of a wrapped vault key or raises PT400 naming the first bad one.';

revoke all on function "private"."check_vault_key"(text, text, text) from public;

grant execute on function "private"."check_vault_key"(text, text, text) to "postgres";
