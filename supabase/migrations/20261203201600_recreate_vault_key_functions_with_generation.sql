-- get_vault_key and update_vault_key also answer key_generation: which generation of the vault key
-- the owner's password-wrapped copy holds (rotate_vault_key re-wraps it when the owner rotates; an
-- admin's rotation leaves it at its generation, and the owner's device then reads newer generations
-- from its key grants). The client binds the generation into the copy's AAD (client/src/vault-key.ts).
-- Bodies as in 20261127000500_create_vault_functions.sql; the private implementations return the
-- vault_keys row, which has the column already. The result type changes: drop and create.

set lock_timeout = '1s';

drop function public.get_vault_key(uuid);
create function public.get_vault_key(vault_id uuid)
returns table (vault_id uuid, encrypted_vault_key text, salt text, nonce text, created_at timestamptz, updated_at timestamptz,
               key_generation bigint)
language sql stable
security definer -- runs the private implementation, which raises PT404 for absent and foreign vaults alike
set search_path = ''
as $$
  select k.vault_id, k.encrypted_vault_key, k.salt, k.nonce, k.created_at, k.updated_at, k.key_generation
  from private.get_vault_key(get_vault_key.vault_id) as k
$$;
comment on function public.get_vault_key(uuid) is
  'API: the caller''s encrypted key of a vault and the key generation it holds; PT404 when absent or not the caller''s. SECURITY DEFINER to run the private implementation, which checks the caller explicitly.';
revoke execute on function public.get_vault_key(uuid) from public, anon;
grant execute on function public.get_vault_key(uuid) to authenticated;

drop function public.update_vault_key(uuid, text, text, text, timestamptz);
create function public.update_vault_key(vault_id uuid, encrypted_vault_key text, salt text, nonce text,
  if_updated_at timestamptz)
returns table (vault_id uuid, encrypted_vault_key text, salt text, nonce text, created_at timestamptz, updated_at timestamptz,
               key_generation bigint)
language sql volatile
security definer -- writes vault_keys, on which API roles have no write grant
set search_path = ''
as $$
  select k.vault_id, k.encrypted_vault_key, k.salt, k.nonce, k.created_at, k.updated_at, k.key_generation
  from private.update_vault_key(update_vault_key.vault_id, update_vault_key.encrypted_vault_key,
    update_vault_key.salt, update_vault_key.nonce, update_vault_key.if_updated_at) as k
$$;
comment on function public.update_vault_key(uuid, text, text, text, timestamptz) is
  'API: replaces the caller''s encrypted vault key (after a password change) if it is still at if_updated_at (else PT409); PT404 when absent or not the caller''s; answers the key generation it holds. SECURITY DEFINER because vault_keys has no write grants.';
revoke execute on function public.update_vault_key(uuid, text, text, text, timestamptz) from public, anon;
grant execute on function public.update_vault_key(uuid, text, text, text, timestamptz) to authenticated;

reset lock_timeout;
