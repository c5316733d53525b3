-- Vault lifecycle and key functions: create_vault, get_vault_key, update_vault_key, list_vaults,
-- delete_vault. (push_logs and pull_logs have migrations of their own.)
--
-- Shape: the functions returning a table are `language sql` wrappers in public with exactly the
-- API's argument and column names, over a plpgsql implementation in private (plpgsql refuses an
-- argument and a result column of the same name, e.g. vault_id, which the API needs). The wrappers
-- that write, or that must answer "not found" with PT404, are SECURITY DEFINER: the tables grant the
-- API roles nothing but SELECT, and the private implementations are executable only by their owner.
-- Each implementation checks ownership explicitly against auth.uid().
--
-- Not the caller's vault and no such vault give the same error (PT404, 'vault not found',
-- detail 'vault_id'), so vault ids of other users cannot be probed — except by create_vault, whose
-- contract is PT409 for an id that exists, whoever owns it (ids are random UUIDs chosen by clients).

-- check_vault_key: the fields of a wrapped vault key, as create_vault and update_vault_key take them.
create function private.check_vault_key(encrypted_vault_key text, salt text, nonce text) returns void
language plpgsql stable
set search_path = ''
as $$
declare
  lim private.limit_set := private.limits();
begin
  perform private.check_key_field('encrypted_vault_key', check_vault_key.encrypted_vault_key, lim.max_encrypted_vault_key_chars);
  perform private.check_key_field('salt', check_vault_key.salt, lim.max_salt_chars);
  perform private.check_key_field('nonce', check_vault_key.nonce, lim.max_key_nonce_chars);
end
$$;
comment on function private.check_vault_key(text, text, text) is
  'Validates the three fields of a wrapped vault key or raises PT400 naming the first bad one.';
revoke execute on function private.check_vault_key(text, text, text) from public, anon, authenticated;

-- create_vault -------------------------------------------------------------------------------------

create function private.create_vault(p_vault_id uuid, p_encrypted_vault_key text, p_salt text, p_nonce text)
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

  insert into public.vault_keys (vault_id, user_id, encrypted_vault_key, salt, nonce)
  values (p_vault_id, uid, p_encrypted_vault_key, p_salt, p_nonce)
  returning * into result;
  return result;
end
$$;
comment on function private.create_vault(uuid, text, text, text) is 'Implementation of public.create_vault.';
revoke execute on function private.create_vault(uuid, text, text, text) from public, anon, authenticated;

create function public.create_vault(vault_id uuid, encrypted_vault_key text, salt text, nonce text)
returns table (vault_id uuid, encrypted_vault_key text, salt text, nonce text, created_at timestamptz, updated_at timestamptz)
language sql volatile
security definer -- writes vaults and vault_keys, on which API roles have no write grant
set search_path = ''
as $$
  select k.vault_id, k.encrypted_vault_key, k.salt, k.nonce, k.created_at, k.updated_at
  from private.create_vault(create_vault.vault_id, create_vault.encrypted_vault_key, create_vault.salt, create_vault.nonce) as k
$$;
comment on function public.create_vault(uuid, text, text, text) is
  'API: creates the caller''s vault with its encrypted key (PT409 when the id exists). SECURITY DEFINER because the tables have no write grants; owner = auth.uid().';
revoke execute on function public.create_vault(uuid, text, text, text) from public, anon;
grant execute on function public.create_vault(uuid, text, text, text) to authenticated;

-- get_vault_key ------------------------------------------------------------------------------------

create function private.get_vault_key(p_vault_id uuid)
returns public.vault_keys
language plpgsql stable
set search_path = ''
as $$
declare
  uid uuid := private.require_uid();
  result public.vault_keys;
begin
  perform private.require_arg('vault_id', p_vault_id);
  select k.* into result
  from public.vault_keys k
  join public.vaults v on v.id = k.vault_id
  where k.vault_id = p_vault_id and k.user_id = uid and v.owner_id = uid;
  if not found then
    raise exception using errcode = 'PT404', message = 'vault not found', detail = 'vault_id';
  end if;
  return result;
end
$$;
comment on function private.get_vault_key(uuid) is 'Implementation of public.get_vault_key.';
revoke execute on function private.get_vault_key(uuid) from public, anon, authenticated;

create function public.get_vault_key(vault_id uuid)
returns table (vault_id uuid, encrypted_vault_key text, salt text, nonce text, created_at timestamptz, updated_at timestamptz)
language sql stable
security definer -- runs the private implementation, which raises PT404 for absent and foreign vaults alike
set search_path = ''
as $$
  select k.vault_id, k.encrypted_vault_key, k.salt, k.nonce, k.created_at, k.updated_at
  from private.get_vault_key(get_vault_key.vault_id) as k
$$;
comment on function public.get_vault_key(uuid) is
  'API: the caller''s encrypted key of a vault; PT404 when absent or not the caller''s. SECURITY DEFINER to run the private implementation, which checks auth.uid() explicitly.';
revoke execute on function public.get_vault_key(uuid) from public, anon;
grant execute on function public.get_vault_key(uuid) to authenticated;

-- update_vault_key ---------------------------------------------------------------------------------

create function private.update_vault_key(p_vault_id uuid, p_encrypted_vault_key text, p_salt text, p_nonce text,
  p_if_updated_at timestamptz)
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
$$;
comment on function private.update_vault_key(uuid, text, text, text, timestamptz) is
  'Implementation of public.update_vault_key.';
revoke execute on function private.update_vault_key(uuid, text, text, text, timestamptz) from public, anon, authenticated;

create function public.update_vault_key(vault_id uuid, encrypted_vault_key text, salt text, nonce text,
  if_updated_at timestamptz)
returns table (vault_id uuid, encrypted_vault_key text, salt text, nonce text, created_at timestamptz, updated_at timestamptz)
language sql volatile
security definer -- writes vault_keys, on which API roles have no write grant
set search_path = ''
as $$
  select k.vault_id, k.encrypted_vault_key, k.salt, k.nonce, k.created_at, k.updated_at
  from private.update_vault_key(update_vault_key.vault_id, update_vault_key.encrypted_vault_key,
    update_vault_key.salt, update_vault_key.nonce, update_vault_key.if_updated_at) as k
$$;
comment on function public.update_vault_key(uuid, text, text, text, timestamptz) is
  'API: replaces the caller''s encrypted vault key (after a password change) if it is still at if_updated_at (else PT409); PT404 when absent or not the caller''s. SECURITY DEFINER because vault_keys has no write grants; ownership checked against auth.uid().';
revoke execute on function public.update_vault_key(uuid, text, text, text, timestamptz) from public, anon;
grant execute on function public.update_vault_key(uuid, text, text, text, timestamptz) to authenticated;

-- list_vaults --------------------------------------------------------------------------------------

-- SECURITY INVOKER: authenticated may read vaults, and RLS limits it to the caller's rows as well.
-- log_count is last_sequence (sequences are gap-free from 1 and logs are never deleted one by one)
-- and bytes a counter kept by push_logs: one index lookup per vault, no scan of the logs.
create function public.list_vaults()
returns table (vault_id uuid, created_at timestamptz, updated_at timestamptz, last_sequence bigint, log_count bigint, bytes bigint)
language sql stable
set search_path = ''
as $$
  select v.id, v.created_at, v.updated_at, v.last_sequence, v.last_sequence, v.bytes
  from public.vaults v
  where v.owner_id = (select auth.uid())
  order by v.created_at, v.id
$$;
comment on function public.list_vaults() is
  'API: the caller''s vaults with log_count (= last_sequence) and bytes (sum of octet_length of encrypted_data, nonce and haex_timestamp). SECURITY INVOKER; RLS applies.';
revoke execute on function public.list_vaults() from public, anon;
grant execute on function public.list_vaults() to authenticated;

-- delete_vault -------------------------------------------------------------------------------------

create function public.delete_vault(vault_id uuid)
returns void
language plpgsql volatile
security definer -- deletes from vaults (cascading to vault_keys and vault_logs), which have no write grants
set search_path = ''
as $$
declare
  uid uuid := private.require_uid();
begin
  perform private.require_arg('vault_id', delete_vault.vault_id);
  -- Takes the vault's row lock, so a push in progress finishes first; a push waiting for the lock
  -- then finds no vault (PT404).
  delete from public.vaults v where v.id = delete_vault.vault_id and v.owner_id = uid;
  if not found then
    raise exception using errcode = 'PT404', message = 'vault not found', detail = 'vault_id';
  end if;
end
$$;
comment on function public.delete_vault(uuid) is
  'API: deletes the caller''s vault with its keys and logs; PT404 when absent or not the caller''s. SECURITY DEFINER because the tables have no write grants; ownership checked against auth.uid().';
revoke execute on function public.delete_vault(uuid) from public, anon;
grant execute on function public.delete_vault(uuid) to authenticated;
