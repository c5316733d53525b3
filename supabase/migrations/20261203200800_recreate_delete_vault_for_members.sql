-- delete_vault for shared vaults (issue 18): only the owner deletes; another member gets PT403
-- `forbidden`, a non-member PT404 as before. Otherwise as in 20261127000500_create_vault_functions.sql.

set lock_timeout = '1s';

create or replace function public.delete_vault(vault_id uuid)
returns void
language plpgsql volatile
security definer -- deletes from vaults (cascading to members, keys, grants and logs), which have no write grants
set search_path = ''
as $$
begin
  perform private.require_vault_role(delete_vault.vault_id, 'owner');
  -- Takes the vault's row lock, so a push in progress finishes first; a push waiting for the lock
  -- then finds no vault (PT404).
  delete from public.vaults v where v.id = delete_vault.vault_id;
  if not found then
    raise exception using errcode = 'PT404', message = 'vault not found', detail = 'vault_id';
  end if;
end
$$;
comment on function public.delete_vault(uuid) is
  'API: deletes a vault the caller owns with its members, keys, grants and logs; PT403 for another member, PT404 when absent or not a member. SECURITY DEFINER because the tables have no write grants; access through private.require_vault_role.';

reset lock_timeout;
