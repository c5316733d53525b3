-- Vault ids are never reused: deleting a vault leaves a tombstone, and create_vault refuses a
-- tombstoned id with PT409, hint 'vault_deleted'.
--
-- Why: a vault deleted and created again under the same id restarted at sequence 1, and a device
-- still holding cursor N silently never saw logs 1..N of the new vault. With tombstones that device's
-- next pull answers PT404 (the vault is gone) and the id cannot come back.
--
-- The tombstone is written by an AFTER DELETE trigger on public.vaults, so every way a vault row
-- disappears leaves one: delete_vault, and the cascade from auth.users when a user is deleted.
-- Tombstones keep only the id and the time: nothing about the vault's content or owner survives.

create table private.vault_tombstones (
  vault_id uuid primary key,
  deleted_at timestamptz not null default now()
);
comment on table private.vault_tombstones is
  'Ids of deleted vaults, kept for good so that an id is never reused (create_vault answers PT409 vault_deleted).';

-- Nobody but the owner (the migration role) touches it: no grants, RLS on without policies.
alter table private.vault_tombstones enable row level security;
revoke all on table private.vault_tombstones from public, anon, authenticated;

create function private.keep_vault_tombstone() returns trigger
language plpgsql volatile
security definer -- runs as the deleter, e.g. supabase_auth_admin deleting a user (cascade), who has no grant on private
set search_path = ''
as $$
begin
  insert into private.vault_tombstones (vault_id) values (old.id) on conflict do nothing;
  return null;
end
$$;
comment on function private.keep_vault_tombstone() is
  'AFTER DELETE trigger of public.vaults: records the deleted id in private.vault_tombstones.';
revoke execute on function private.keep_vault_tombstone() from public, anon, authenticated;

create trigger keep_vault_tombstone
  after delete on public.vaults
  for each row execute function private.keep_vault_tombstone();

-- create_vault, as in 20261127000500_create_vault_functions.sql, plus the tombstone check.
create or replace function private.create_vault(p_vault_id uuid, p_encrypted_vault_key text, p_salt text, p_nonce text)
returns public.vault_keys
language plpgsql volatile
set search_path = ''
as $$
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
$$;

comment on function public.create_vault(uuid, text, text, text) is
  'API: creates the caller''s vault with its encrypted key (PT409 when the id exists; PT409 hint vault_deleted when it belonged to a deleted vault). SECURITY DEFINER because the tables have no write grants; owner = auth.uid().';
