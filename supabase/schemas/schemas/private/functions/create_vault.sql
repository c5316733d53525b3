create or replace function private.create_vault (
  p_vault_id            uuid,
  p_encrypted_vault_key text,
  p_salt                text,
  p_nonce               text
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

  -- A concurrent create of the same id waits for the first to commit, then does nothing.
  insert into public.vaults (id, owner_id) values (p_vault_id, uid) on conflict do nothing;
  if not found then
    raise exception using errcode = 'PT409', message = 'vault already exists', detail = 'vault_id';
  end if;
  -- Checked after the insert, in a statement of its own (a new snapshot): a delete of this id that
  -- held the row while the insert waited has committed its tombstone by now, so it is seen.
  if exists (select 1 from private.vault_tombstones t where t.vault_id = p_vault_id) then
    raise exception using errcode = 'PT409', message = 'vault_id belongs to a deleted vault; ids are never reused',
      detail = 'vault_id', hint = 'vault_deleted';
  end if;

  insert into public.vault_keys (vault_id, user_id, encrypted_vault_key, salt, nonce)
  values (p_vault_id, uid, p_encrypted_vault_key, p_salt, p_nonce)
  returning * into result;
  return result;
end
$function$;

comment on function "private"."create_vault"(uuid, text, text, text) is 'Implementation of public.create_vault.';

revoke all on function "private"."create_vault"(uuid, text, text, text) from public;

grant execute on function "private"."create_vault"(uuid, text, text, text) to "postgres";
