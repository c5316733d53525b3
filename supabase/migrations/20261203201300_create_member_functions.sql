-- Members of a vault (issue 18 items 2 and 4): list, change roles, remove, leave.
--
-- Removal and leaving end access at once: the member row goes in the same transaction, and every
-- access helper reads vault_members live, so the next request of that user, with a still-valid
-- token, gets PT404; a Realtime join is refused likewise. Their key grants are deleted too (they
-- keep what they already downloaded: docs/sharing.md), and vaults.key_rotation_due is set until
-- rotate_vault_key runs. Each change takes the vault row lock (as push_logs does) so that a push in
-- progress finishes first and a push waiting for the lock sees the change (it re-reads the role).
--
-- Who may: admins and the owner remove and change roles of members ranked below themselves; an
-- admin gives only writer or reader; the owner is never removed nor changed; the owner cannot leave.

set lock_timeout = '1s'; -- new objects; the foreign keys lock the referenced tables briefly

create function public.list_vault_members(vault_id uuid)
returns table (user_id uuid, email text, role text, encryption_public_key text, signing_public_key text,
               signature text, created_at timestamptz)
language sql stable
security definer -- reads auth.users (emails) and vault_members; access through private.require_vault_role
set search_path = ''
as $$
  select m.user_id, u.email::text, m.role, k.encryption_public_key, k.signing_public_key, k.signature, m.created_at
  -- OFFSET 0: the access check runs once, before any row, and raises for a non-member.
  from (select private.require_vault_role(list_vault_members.vault_id, 'reader') as caller_role offset 0) as r
  join public.vault_members m on m.vault_id = list_vault_members.vault_id
  join auth.users u on u.id = m.user_id
  left join public.identities k on k.user_id = m.user_id
  -- Referenced, so the planner keeps the call (an unused output of a stable call would be dropped).
  where r.caller_role is not null
  order by private.role_rank(m.role) desc, m.created_at, m.user_id
$$;
comment on function public.list_vault_members(uuid) is
  'API: the members of a vault the caller is a member of, with email, role and identity; PT404 for a non-member. SECURITY DEFINER to read auth.users.';
revoke execute on function public.list_vault_members(uuid) from public, anon;
grant execute on function public.list_vault_members(uuid) to authenticated;

-- The caller's role after taking the vault lock (re-read, as a removal may have committed meanwhile)
-- and the target's role; raises PT404 / PT403 as the rules above say.
create function private.lock_vault_for_member_change(p_vault_id uuid, p_user_id uuid)
returns text
language plpgsql volatile
set search_path = ''
as $$
declare
  caller_role text;
  target_role text;
begin
  perform private.require_vault_role(p_vault_id, 'admin');
  perform private.require_arg('user_id', p_user_id);
  perform from public.vaults v where v.id = p_vault_id for update;
  caller_role := private.require_vault_role(p_vault_id, 'admin');
  select m.role into target_role from public.vault_members m
  where m.vault_id = p_vault_id and m.user_id = p_user_id for update;
  if target_role is null then
    raise exception using errcode = 'PT404', message = 'member not found', detail = 'user_id';
  end if;
  if private.role_rank(target_role) >= private.role_rank(caller_role) then
    raise exception using errcode = 'PT403', message = format('a %s may not change a %s', caller_role, target_role),
      detail = 'user_id';
  end if;
  return caller_role;
end
$$;
comment on function private.lock_vault_for_member_change(uuid, uuid) is
  'For set_member_role and remove_member: takes the vault lock, checks the caller outranks the target; returns the caller''s role.';
revoke execute on function private.lock_vault_for_member_change(uuid, uuid) from public, anon, authenticated;

create function public.set_member_role(vault_id uuid, user_id uuid, role text)
returns void
language plpgsql volatile
security definer -- updates vault_members, which has no write grants
set search_path = ''
as $$
declare
  caller_role text;
begin
  if set_member_role.role is null or set_member_role.role not in ('admin', 'writer', 'reader') then
    raise exception using errcode = 'PT400', message = 'role must be admin, writer or reader', detail = 'role';
  end if;
  caller_role := private.lock_vault_for_member_change(set_member_role.vault_id, set_member_role.user_id);
  if private.role_rank(set_member_role.role) >= private.role_rank(caller_role) then
    raise exception using errcode = 'PT403', message = format('a %s may not give the role %s', caller_role, set_member_role.role),
      detail = 'role';
  end if;
  update public.vault_members m set role = set_member_role.role
  where m.vault_id = set_member_role.vault_id and m.user_id = set_member_role.user_id;
end
$$;
comment on function public.set_member_role(uuid, uuid, text) is
  'API: changes a member''s role (admins: writer/reader of writers and readers; the owner: any role but owner of anyone but itself). SECURITY DEFINER because vault_members has no write grants; access through private.require_vault_role.';
revoke execute on function public.set_member_role(uuid, uuid, text) from public, anon;
grant execute on function public.set_member_role(uuid, uuid, text) to authenticated;

-- Deletes the member's row and grants and marks the rotation due; the caller holds the vault lock.
create function private.drop_member(p_vault_id uuid, p_user_id uuid)
returns void
language sql volatile
set search_path = ''
as $$
  delete from public.vault_members m where m.vault_id = p_vault_id and m.user_id = p_user_id;
  delete from public.vault_key_grants g where g.vault_id = p_vault_id and g.recipient_id = p_user_id;
  update public.vault_invitations i set status = 'void'
  where i.vault_id = p_vault_id and i.inviter_id = p_user_id and i.status = 'pending';
  update public.vaults v set key_rotation_due = true where v.id = p_vault_id;
$$;
comment on function private.drop_member(uuid, uuid) is
  'Removes a member: row, key grants, its pending invitations; sets key_rotation_due. Caller holds the vault lock.';
revoke execute on function private.drop_member(uuid, uuid) from public, anon, authenticated;

create function public.remove_member(vault_id uuid, user_id uuid)
returns void
language plpgsql volatile
security definer -- deletes from vault_members and vault_key_grants, which have no write grants
set search_path = ''
as $$
begin
  perform private.lock_vault_for_member_change(remove_member.vault_id, remove_member.user_id);
  perform private.drop_member(remove_member.vault_id, remove_member.user_id);
end
$$;
comment on function public.remove_member(uuid, uuid) is
  'API: removes a member ranked below the caller (admins and the owner); access ends at once; sets key_rotation_due (rotate next). SECURITY DEFINER because the tables have no write grants; access through private.require_vault_role.';
revoke execute on function public.remove_member(uuid, uuid) from public, anon;
grant execute on function public.remove_member(uuid, uuid) to authenticated;

create function public.leave_vault(vault_id uuid)
returns void
language plpgsql volatile
security definer -- deletes from vault_members and vault_key_grants, which have no write grants
set search_path = ''
as $$
declare
  caller_role text := private.require_vault_role(leave_vault.vault_id, 'reader');
begin
  if caller_role = 'owner' then
    raise exception using errcode = 'PT403', message = 'the owner cannot leave; delete the vault instead',
      detail = 'vault_id';
  end if;
  perform from public.vaults v where v.id = leave_vault.vault_id for update;
  perform private.drop_member(leave_vault.vault_id, (select private.caller_id()));
end
$$;
comment on function public.leave_vault(uuid) is
  'API: the caller leaves a vault (not its owner: PT403); access ends at once; sets key_rotation_due. SECURITY DEFINER because the tables have no write grants.';
revoke execute on function public.leave_vault(uuid) from public, anon;
grant execute on function public.leave_vault(uuid) to authenticated;

reset lock_timeout;
