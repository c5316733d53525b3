create or replace function private.update_vault_key (
  p_vault_id            uuid,
  p_encrypted_vault_key text,
  p_salt                text,
  p_nonce               text,
  p_if_updated_at       timestamp with time zone
)
  returns public.vault_keys
  language plpgsql
  set search_path to ''
  AS $function$
declare
  uid uuid := private.require_uid();
  result public.vault_keys;
begin
  perform private.require_arg('vault_id', p_vault_id);
  perform private.check_vault_key(p_encrypted_vault_key, p_salt, p_nonce);
  perform private.require_arg('if_updated_at', p_if_updated_at);

  -- Optimistic concurrency: only the version the caller last read may be replaced. A concurrent
  -- update of the same row waits for the row lock and then re-checks updated_at against the new
  -- version, so of two updates from the same version exactly one succeeds. updated_at stays at
  -- millisecond precision (exact through JSON and a JavaScript Date) and strictly increases, so two
  -- updates within one millisecond still get different versions.
  update public.vault_keys k
  set encrypted_vault_key = p_encrypted_vault_key,
      salt = p_salt,
      nonce = p_nonce,
      updated_at = greatest(date_trunc('milliseconds', now()), k.updated_at + interval '1 millisecond')
  from public.vaults v
  where k.vault_id = p_vault_id and k.user_id = uid
    and v.id = k.vault_id and v.owner_id = uid
    and k.updated_at = p_if_updated_at
  returning k.* into result;
  if found then
    return result;
  end if;

  if exists (select 1 from public.vault_keys k join public.vaults v on v.id = k.vault_id
             where k.vault_id = p_vault_id and k.user_id = uid and v.owner_id = uid) then
    raise exception using errcode = 'PT409',
      message = 'vault key was changed since if_updated_at: read it again', detail = 'if_updated_at';
  end if;
  raise exception using errcode = 'PT404', message = 'vault not found', detail = 'vault_id';
end
$function$;

comment on function "private"."update_vault_key"(uuid, text, text, text, timestamp with time zone) is 'Implementation of public.update_vault_key.';

revoke all on function "private"."update_vault_key"(uuid, text, text, text, timestamp with time zone) from public;

grant execute on function "private"."update_vault_key"(uuid, text, text, text, timestamp with time zone) to "postgres";
