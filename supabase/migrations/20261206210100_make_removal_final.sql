-- Removal is final (issue 24 item 2), and key generations are bigint everywhere (item 4).
--
--   * private.removed_members records each removal (remove_member, leave_vault, any path through
--     private.drop_member); accept_invitation and claim_invite_link refuse (PT409 invitation_closed)
--     an invitation or link made before the caller's last removal: a removed user returns only
--     through an invitation or link made after it.
--   * private.drop_member voids the pending invitations addressed to the removed user and the
--     invitations and links they made; set_member_role voids those of an admin it demotes.
--   * Every role check guarding a write runs again after the vault lock: invite_member and
--     create_invite_link re-read the caller's role under it; accept_invitation and
--     claim_invite_link re-check the inviter's right (private.may_still_invite) under it.
--   * claim_invite_link locks the link row before it reads the membership: a user claiming the same
--     link twice at once joins once and gets the same answer twice (it raced to a primary-key
--     violation, answered 500).
--   * key_generation parameters and results are bigint, as the columns (invite_member,
--     create_invite_link, rotate_vault_key, list_invitations: drop and create, grants again;
--     variables and casts in accept_invitation and store_own_grants; check_grants takes up to 18 digits).
-- Bodies otherwise as in 20261203201000 to 20261203201400.
--
-- Locks: a new table (its foreign keys take SHARE ROW EXCLUSIVE on vaults and auth.users for an
-- instant); function replacements lock no table.

set lock_timeout = '1s';

-- Who was removed from a vault, and when: a removed user returns only through an invitation or
-- link made after their removal (accept_invitation, claim_invite_link ask private.removed_since).
create table private.removed_members (
  vault_id uuid not null references public.vaults (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  removed_at timestamptz not null default now(),
  primary key (vault_id, user_id)
);
comment on table private.removed_members is
  'The last removal (or leaving) of each user from each vault; invitations and links made before it cannot bring them back.';
-- auth.users' cascade looks rows up by user.
create index removed_members_user_id_idx on private.removed_members (user_id);
alter table private.removed_members enable row level security; -- no policies: the functions' owner reads it
revoke all on table private.removed_members from public, anon, authenticated;

create function private.removed_since(p_vault_id uuid, p_user_id uuid, p_since timestamptz) returns boolean
language sql stable
set search_path = ''
as $$
  select exists (select from private.removed_members r
                 where r.vault_id = p_vault_id and r.user_id = p_user_id and r.removed_at >= p_since)
$$;
comment on function private.removed_since(uuid, uuid, timestamptz) is
  'True when the user was removed from (or left) the vault at or after p_since.';
revoke execute on function private.removed_since(uuid, uuid, timestamptz) from public, anon, authenticated;

create function private.may_still_invite(p_vault_id uuid, p_inviter_id uuid, p_role text, p_since timestamptz)
returns boolean
language sql stable
set search_path = ''
as $$
  -- The inviter is still an admin (the owner, for an admin's invitation) and was not removed since.
  select exists (select from public.vault_members m
                 where m.vault_id = p_vault_id and m.user_id = p_inviter_id
                   and private.role_rank(m.role) >= private.role_rank(case when p_role = 'admin' then 'owner' else 'admin' end))
     and not private.removed_since(p_vault_id, p_inviter_id, p_since)
$$;
comment on function private.may_still_invite(uuid, uuid, text, timestamptz) is
  'True when p_inviter_id may still invite p_role to the vault (admin, owner for admins) and was not removed since p_since. Callers hold the vault lock.';
revoke execute on function private.may_still_invite(uuid, uuid, text, timestamptz) from public, anon, authenticated;

create function private.void_invites_by(p_vault_id uuid, p_user_id uuid) returns void
language sql volatile
set search_path = ''
as $$
  update public.vault_invitations i set status = 'void'
  where i.vault_id = p_vault_id and i.inviter_id = p_user_id and i.status = 'pending';
  update public.vault_invite_links l set void = true
  where l.vault_id = p_vault_id and l.created_by = p_user_id and not l.void;
$$;
comment on function private.void_invites_by(uuid, uuid) is
  'Voids the pending invitations and the links a user made in a vault (they were removed, or demoted below admin). Caller holds the vault lock.';
revoke execute on function private.void_invites_by(uuid, uuid) from public, anon, authenticated;

create or replace function private.drop_member(p_vault_id uuid, p_user_id uuid)
returns void
language sql volatile
set search_path = ''
as $$
  delete from public.vault_members m where m.vault_id = p_vault_id and m.user_id = p_user_id;
  delete from public.vault_key_grants g where g.vault_id = p_vault_id and g.recipient_id = p_user_id;
  insert into private.removed_members (vault_id, user_id) values (p_vault_id, p_user_id)
  on conflict (vault_id, user_id) do update set removed_at = excluded.removed_at;
  -- Invitations addressed to them: none may bring them back.
  update public.vault_invitations i set status = 'void'
  where i.vault_id = p_vault_id and i.invitee_id = p_user_id and i.status = 'pending';
  -- What they made: their right to invite ended with their membership.
  select private.void_invites_by(p_vault_id, p_user_id);
  update public.vaults v set key_rotation_due = true where v.id = p_vault_id;
$$;
comment on function private.drop_member(uuid, uuid) is
  'Removes a member: row, key grants, invitations to and by them, links by them; records the removal; sets key_rotation_due. Caller holds the vault lock.';
revoke execute on function private.drop_member(uuid, uuid) from public, anon, authenticated;

create or replace function public.set_member_role(vault_id uuid, user_id uuid, role text)
returns void
language plpgsql volatile
security definer -- updates vault_members, which has no write grants
set search_path = ''
as $$
declare
  caller_role text;
  old_role text;
begin
  if set_member_role.role is null or set_member_role.role not in ('admin', 'writer', 'reader') then
    raise exception using errcode = 'PT400', message = 'role must be admin, writer or reader', detail = 'role';
  end if;
  caller_role := private.lock_vault_for_member_change(set_member_role.vault_id, set_member_role.user_id);
  if private.role_rank(set_member_role.role) >= private.role_rank(caller_role) then
    raise exception using errcode = 'PT403', message = format('a %s may not give the role %s', caller_role, set_member_role.role),
      detail = 'role';
  end if;
  -- The target's row is locked (private.lock_vault_for_member_change).
  select m.role into old_role from public.vault_members m
  where m.vault_id = set_member_role.vault_id and m.user_id = set_member_role.user_id;
  update public.vault_members m set role = set_member_role.role
  where m.vault_id = set_member_role.vault_id and m.user_id = set_member_role.user_id;
  -- A demoted admin's invitations and links end with their right to make them.
  if old_role = 'admin' and set_member_role.role <> 'admin' then
    perform private.void_invites_by(set_member_role.vault_id, set_member_role.user_id);
  end if;
end
$$;
comment on function public.set_member_role(uuid, uuid, text) is
  'API: changes a member''s role (admins: writer/reader of writers and readers; the owner: any role but owner of anyone but itself); demoting an admin voids their invitations and links. SECURITY DEFINER because vault_members has no write grants; access through private.require_vault_role.';

create or replace function private.check_grants(field text, grants jsonb, with_recipient boolean, with_generation boolean)
returns int
language plpgsql stable
set search_path = ''
as $$
declare
  g jsonb;
  i int := 0;
  path text;
begin
  if grants is null or jsonb_typeof(grants) <> 'array' or jsonb_array_length(grants) not between 1 and 1000 then
    raise exception using errcode = 'PT400', message = format('%s must be an array of 1 to 1000 grants', field),
      detail = field;
  end if;
  for g in select e from jsonb_array_elements(grants) as e loop
    path := format('%s[%s]', field, i);
    if jsonb_typeof(g) <> 'object' then
      raise exception using errcode = 'PT400', message = format('%s must be an object', path), detail = path;
    end if;
    if with_recipient and (jsonb_typeof(g -> 'recipient_id') is distinct from 'string'
        or (g ->> 'recipient_id') !~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$') then
      raise exception using errcode = 'PT400', message = format('%s.recipient_id must be a uuid', path),
        detail = path || '.recipient_id';
    end if;
    if with_generation and (jsonb_typeof(g -> 'key_generation') is distinct from 'number'
        or (g ->> 'key_generation') !~ '^[1-9][0-9]{0,17}$') then
      raise exception using errcode = 'PT400', message = format('%s.key_generation must be a positive integer', path),
        detail = path || '.key_generation';
    end if;
    if jsonb_typeof(g -> 'ephemeral_public_key') is distinct from 'string' or length(g ->> 'ephemeral_public_key') <> 44
       or not private.is_base64(g ->> 'ephemeral_public_key') then
      raise exception using errcode = 'PT400', message = format('%s.ephemeral_public_key must be 32 bytes of base64', path),
        detail = path || '.ephemeral_public_key';
    end if;
    if jsonb_typeof(g -> 'nonce') is distinct from 'string' or length(g ->> 'nonce') <> 16
       or not private.is_base64(g ->> 'nonce') then
      raise exception using errcode = 'PT400', message = format('%s.nonce must be 12 bytes of base64', path),
        detail = path || '.nonce';
    end if;
    if jsonb_typeof(g -> 'sealed_key') is distinct from 'string' or length(g ->> 'sealed_key') <> 64
       or not private.is_base64(g ->> 'sealed_key') then
      raise exception using errcode = 'PT400', message = format('%s.sealed_key must be 48 bytes of base64', path),
        detail = path || '.sealed_key';
    end if;
    if jsonb_typeof(g -> 'signature') is distinct from 'string' or length(g ->> 'signature') <> 88
       or not private.is_base64(g ->> 'signature') then
      raise exception using errcode = 'PT400', message = format('%s.signature must be 64 bytes of base64', path),
        detail = path || '.signature';
    end if;
    i := i + 1;
  end loop;
  return i;
end
$$;
comment on function private.check_grants(text, jsonb, boolean, boolean) is
  'Validates an array of sealed grants (shapes only) or raises PT400 naming the first bad field; returns the count.';
revoke execute on function private.check_grants(text, jsonb, boolean, boolean) from public, anon, authenticated;

drop function public.invite_member(uuid, uuid, text, int, jsonb, int);
create function public.invite_member(vault_id uuid, invitee_id uuid, role text, key_generation bigint, grants jsonb,
  expires_in_seconds int default 604800)
returns jsonb
language plpgsql volatile
security definer -- writes vault_invitations, which has no grants
set search_path = ''
as $$
declare
  uid uuid := private.caller_id();
  caller_role text := private.require_vault_role(invite_member.vault_id, 'admin');
  current_generation bigint;
  invitation public.vault_invitations;
begin
  perform private.require_arg('invitee_id', invite_member.invitee_id);
  if invite_member.role is null or invite_member.role not in ('admin', 'writer', 'reader') then
    raise exception using errcode = 'PT400', message = 'role must be admin, writer or reader', detail = 'role';
  end if;
  if invite_member.role = 'admin' and caller_role <> 'owner' then
    raise exception using errcode = 'PT403', message = 'only the owner invites admins', detail = 'role';
  end if;
  if invite_member.expires_in_seconds is null or invite_member.expires_in_seconds not between 60 and 2592000 then
    raise exception using errcode = 'PT400', message = 'expires_in_seconds must be 60 to 2592000', detail = 'expires_in_seconds';
  end if;
  perform private.require_arg('key_generation', invite_member.key_generation);
  perform private.check_grants('grants', invite_member.grants, false, true);
  if not exists (select from public.identities i where i.user_id = invite_member.invitee_id) then
    raise exception using errcode = 'PT404', message = 'no user with an identity has this id', detail = 'invitee_id';
  end if;

  select v.key_generation into current_generation from public.vaults v where v.id = invite_member.vault_id for share;
  -- Again under the lock: a removal or demotion of the caller that committed meanwhile ends here.
  caller_role := private.require_vault_role(invite_member.vault_id, 'admin');
  if invite_member.role = 'admin' and caller_role <> 'owner' then
    raise exception using errcode = 'PT403', message = 'only the owner invites admins', detail = 'role';
  end if;
  if invite_member.key_generation <> current_generation then
    raise exception using errcode = 'PT409', message = format('the vault''s key generation is %s', current_generation),
      detail = 'key_generation', hint = 'stale_key_generation';
  end if;
  if not exists (select from jsonb_array_elements(invite_member.grants) e
                 where (e ->> 'key_generation')::bigint = current_generation)
     or exists (select from jsonb_array_elements(invite_member.grants) e
                where (e ->> 'key_generation')::bigint > current_generation) then
    raise exception using errcode = 'PT400', message = 'grants must hold the current key generation and none newer',
      detail = 'grants';
  end if;
  if exists (select from public.vault_members m where m.vault_id = invite_member.vault_id and m.user_id = invite_member.invitee_id) then
    raise exception using errcode = 'PT409', message = 'already a member of this vault', detail = 'invitee_id',
      hint = 'already_member';
  end if;

  update public.vault_invitations i set status = 'void'
  where i.vault_id = invite_member.vault_id and i.invitee_id = invite_member.invitee_id and i.status = 'pending';
  insert into public.vault_invitations (vault_id, inviter_id, invitee_id, role, key_generation, grants, expires_at)
  values (invite_member.vault_id, uid, invite_member.invitee_id, invite_member.role, current_generation,
          invite_member.grants, now() + make_interval(secs => invite_member.expires_in_seconds))
  returning * into invitation;
  return jsonb_build_object('id', invitation.id, 'vault_id', invitation.vault_id, 'invitee_id', invitation.invitee_id,
    'role', invitation.role, 'key_generation', invitation.key_generation, 'expires_at', invitation.expires_at);
end
$$;
comment on function public.invite_member(uuid, uuid, text, bigint, jsonb, int) is
  'API: invites a user with an identity to a vault (admins and the owner; admins only by the owner) with the vault keys sealed to them; PT409 stale_key_generation after a rotation, already_member. SECURITY DEFINER because vault_invitations has no grants; access through private.require_vault_role.';
revoke execute on function public.invite_member(uuid, uuid, text, bigint, jsonb, int) from public, anon;
grant execute on function public.invite_member(uuid, uuid, text, bigint, jsonb, int) to authenticated;

drop function public.list_invitations();
create function public.list_invitations()
returns table (id uuid, vault_id uuid, role text, key_generation bigint, expires_at timestamptz, created_at timestamptz,
               inviter_id uuid, inviter_email text, inviter_encryption_public_key text,
               inviter_signing_public_key text, inviter_signature text)
language sql stable
security definer -- reads vault_invitations (no grants) and the inviter's email in auth.users
set search_path = ''
as $$
  select i.id, i.vault_id, i.role, i.key_generation, i.expires_at, i.created_at, i.inviter_id, u.email::text,
         k.encryption_public_key, k.signing_public_key, k.signature
  from public.vault_invitations i
  join auth.users u on u.id = i.inviter_id
  left join public.identities k on k.user_id = i.inviter_id
  where i.invitee_id = (select private.caller_id()) and i.status = 'pending' and i.expires_at > now()
  order by i.created_at, i.id
$$;
comment on function public.list_invitations() is
  'API: the caller''s pending, unexpired invitations with the inviter''s email and identity. SECURITY DEFINER to read vault_invitations and auth.users; rows of the caller only.';
revoke execute on function public.list_invitations() from public, anon;
grant execute on function public.list_invitations() to authenticated;

create or replace function public.accept_invitation(invitation_id uuid)
returns jsonb
language plpgsql volatile
security definer -- writes vault_members and vault_key_grants, which have no write grants
set search_path = ''
as $$
declare
  uid uuid := private.require_uid();  -- PT401 without a user, an ended session or a deleted account
  target uuid;
  current_generation bigint;
  invitation public.vault_invitations;
  member_role text;
begin
  perform private.require_arg('invitation_id', accept_invitation.invitation_id);
  select i.vault_id into target from public.vault_invitations i
  where i.id = accept_invitation.invitation_id and i.invitee_id = uid;
  if not found then
    raise exception using errcode = 'PT404', message = 'invitation not found', detail = 'invitation_id';
  end if;
  -- Lock order: vault, then invitation (as rotate_vault_key). FOR SHARE conflicts with the FOR
  -- UPDATE of remove_member, set_member_role and rotate_vault_key: what they changed is seen below.
  select v.key_generation into current_generation from public.vaults v where v.id = target for share;
  select i.* into invitation from public.vault_invitations i where i.id = accept_invitation.invitation_id for update;
  if not found then
    raise exception using errcode = 'PT404', message = 'invitation not found', detail = 'invitation_id';
  end if;

  if invitation.status = 'accepted' then
    -- Idempotent: the same answer while the caller is still the member it made.
    member_role := (select m.role from public.vault_members m where m.vault_id = target and m.user_id = uid);
    if member_role is null then
      raise exception using errcode = 'PT409', message = 'this invitation was used; ask for a new one',
        detail = 'invitation_id', hint = 'invitation_closed';
    end if;
    return jsonb_build_object('vault_id', target, 'role', member_role, 'key_generation', invitation.key_generation);
  end if;
  if invitation.status <> 'pending' or invitation.key_generation <> current_generation then
    raise exception using errcode = 'PT409', message = 'this invitation was declined or voided by a key rotation',
      detail = 'invitation_id', hint = 'invitation_closed';
  end if;
  if invitation.expires_at <= now() then
    raise exception using errcode = 'PT409', message = 'this invitation has expired', detail = 'invitation_id',
      hint = 'invitation_expired';
  end if;
  -- The inviter's right to invite, again under the lock: removing or demoting the inviter voids
  -- their invitations (private.drop_member, set_member_role), and this holds even for a row that
  -- escaped that (e.g. written by hand).
  if not private.may_still_invite(target, invitation.inviter_id, invitation.role, invitation.created_at) then
    raise exception using errcode = 'PT409', message = 'the inviter may no longer invite to this vault',
      detail = 'invitation_id', hint = 'invitation_closed';
  end if;
  if private.removed_since(target, uid, invitation.created_at) then
    raise exception using errcode = 'PT409', message = 'you were removed from this vault after this invitation was made',
      detail = 'invitation_id', hint = 'invitation_closed';
  end if;

  insert into public.vault_members (vault_id, user_id, role, added_by)
  values (target, uid, invitation.role, invitation.inviter_id)
  on conflict do nothing;
  insert into public.vault_key_grants (vault_id, key_generation, recipient_id, sender_id, ephemeral_public_key, nonce,
                                       sealed_key, signature)
  select target, (e ->> 'key_generation')::bigint, uid, invitation.inviter_id, e ->> 'ephemeral_public_key',
         e ->> 'nonce', e ->> 'sealed_key', e ->> 'signature'
  from jsonb_array_elements(invitation.grants) e
  on conflict do nothing;
  update public.vault_invitations i set status = 'accepted' where i.id = invitation.id;
  member_role := (select m.role from public.vault_members m where m.vault_id = target and m.user_id = uid);
  return jsonb_build_object('vault_id', target, 'role', member_role, 'key_generation', invitation.key_generation);
end
$$;
comment on function public.accept_invitation(uuid) is
  'API: the invitee joins the vault with the invitation''s role and key grants, atomically and idempotently; PT404 for no such invitation of the caller, PT409 invitation_expired / invitation_closed (also when the inviter may no longer invite, or the caller was removed after it was made). SECURITY DEFINER because the tables have no write grants; the invitation must name the caller.';
revoke execute on function public.accept_invitation(uuid) from public, anon;
grant execute on function public.accept_invitation(uuid) to authenticated;

drop function public.create_invite_link(uuid, text, text, int, jsonb, int, int);
create function public.create_invite_link(vault_id uuid, token text, role text, key_generation bigint, grants jsonb,
  max_uses int default 1, expires_in_seconds int default 604800)
returns jsonb
language plpgsql volatile
security definer -- writes vault_invite_links, which has no grants
set search_path = ''
as $$
declare
  uid uuid := private.caller_id();
  caller_role text := private.require_vault_role(create_invite_link.vault_id, 'admin');
  current_generation bigint;
  link public.vault_invite_links;
begin
  if create_invite_link.token is null or create_invite_link.token !~ '^[A-Za-z0-9_-]{22,64}$' then
    raise exception using errcode = 'PT400', message = 'token must be 22 to 64 base64url characters', detail = 'token';
  end if;
  if create_invite_link.role is null or create_invite_link.role not in ('admin', 'writer', 'reader') then
    raise exception using errcode = 'PT400', message = 'role must be admin, writer or reader', detail = 'role';
  end if;
  if create_invite_link.role = 'admin' and caller_role <> 'owner' then
    raise exception using errcode = 'PT403', message = 'only the owner invites admins', detail = 'role';
  end if;
  if create_invite_link.max_uses is null or create_invite_link.max_uses not between 1 and 1000 then
    raise exception using errcode = 'PT400', message = 'max_uses must be 1 to 1000', detail = 'max_uses';
  end if;
  if create_invite_link.expires_in_seconds is null or create_invite_link.expires_in_seconds not between 60 and 2592000 then
    raise exception using errcode = 'PT400', message = 'expires_in_seconds must be 60 to 2592000', detail = 'expires_in_seconds';
  end if;
  perform private.require_arg('key_generation', create_invite_link.key_generation);
  perform private.check_grants('grants', create_invite_link.grants, false, true);
  select v.key_generation into current_generation from public.vaults v where v.id = create_invite_link.vault_id for share;
  -- Again under the lock: a removal or demotion of the caller that committed meanwhile ends here.
  caller_role := private.require_vault_role(create_invite_link.vault_id, 'admin');
  if create_invite_link.role = 'admin' and caller_role <> 'owner' then
    raise exception using errcode = 'PT403', message = 'only the owner invites admins', detail = 'role';
  end if;
  if create_invite_link.key_generation <> current_generation then
    raise exception using errcode = 'PT409', message = format('the vault''s key generation is %s', current_generation),
      detail = 'key_generation', hint = 'stale_key_generation';
  end if;
  insert into public.vault_invite_links (vault_id, created_by, token_hash, role, key_generation, grants, max_uses, expires_at)
  values (create_invite_link.vault_id, uid, encode(sha256(convert_to(create_invite_link.token, 'UTF8')), 'hex'), create_invite_link.role,
          current_generation, create_invite_link.grants, create_invite_link.max_uses,
          now() + make_interval(secs => create_invite_link.expires_in_seconds))
  on conflict do nothing
  returning * into link;
  if link.id is null then
    raise exception using errcode = 'PT409', message = 'token already used for a link', detail = 'token';
  end if;
  return jsonb_build_object('id', link.id, 'vault_id', link.vault_id, 'role', link.role, 'max_uses', link.max_uses,
    'key_generation', link.key_generation, 'expires_at', link.expires_at);
end
$$;
comment on function public.create_invite_link(uuid, text, text, bigint, jsonb, int, int) is
  'API: an invite link (admins and the owner) with max_uses and expiry; the server keeps the token''s SHA-256 only. SECURITY DEFINER because vault_invite_links has no grants; access through private.require_vault_role.';
revoke execute on function public.create_invite_link(uuid, text, text, bigint, jsonb, int, int) from public, anon;
grant execute on function public.create_invite_link(uuid, text, text, bigint, jsonb, int, int) to authenticated;

create or replace function public.claim_invite_link(token text)
returns jsonb
language plpgsql volatile
security definer -- writes vault_invite_links and vault_members, which have no write grants
set search_path = ''
as $$
declare
  uid uuid := private.require_uid();  -- PT401 without a user, an ended session or a deleted account
  hash text;
  target uuid;
  link public.vault_invite_links;
  member_role text;
begin
  if claim_invite_link.token is null or claim_invite_link.token !~ '^[A-Za-z0-9_-]{22,64}$' then
    raise exception using errcode = 'PT400', message = 'token must be 22 to 64 base64url characters', detail = 'token';
  end if;
  if not exists (select from public.identities i where i.user_id = uid) then
    raise exception using errcode = 'PT409', message = 'create an identity before joining a vault', detail = 'identity',
      hint = 'identity_required';
  end if;
  hash := encode(sha256(convert_to(claim_invite_link.token, 'UTF8')), 'hex');
  select l.vault_id into target from public.vault_invite_links l where l.token_hash = hash;
  if not found then
    raise exception using errcode = 'PT404', message = 'invite link not found', detail = 'token';
  end if;
  perform from public.vaults v where v.id = target for share;  -- lock order: vault, then link
  -- The link row's lock serializes its claims: a second claim (another user's, or the same user's
  -- twice at once) reads the row and the membership only after the first committed.
  select l.* into link from public.vault_invite_links l where l.token_hash = hash for update;

  member_role := (select m.role from public.vault_members m where m.vault_id = target and m.user_id = uid);
  if member_role is null then
    if link.void or link.used >= link.max_uses or link.expires_at <= now()
       -- the creator's right to invite, under the lock (removing or demoting them voids their links)
       or not private.may_still_invite(target, link.created_by, link.role, link.created_at)
       -- a removed user returns only through a link made after the removal
       or private.removed_since(target, uid, link.created_at) then
      raise exception using errcode = 'PT409', message = 'this invite link is used up, expired or void',
        detail = 'token', hint = 'invitation_closed';
    end if;
    update public.vault_invite_links l set used = l.used + 1 where l.id = link.id;
    insert into public.vault_members (vault_id, user_id, role, added_by) values (target, uid, link.role, link.created_by);
    member_role := link.role;
  end if;
  return jsonb_build_object('vault_id', target, 'role', member_role, 'key_generation', link.key_generation,
    'grants', link.grants, 'inviter_id', link.created_by);
end
$$;
comment on function public.claim_invite_link(text) is
  'API: joins the vault of an invite link, consuming one use under the link row''s lock (PT409 invitation_closed when used up, expired, void, its creator may no longer invite, or the caller was removed after it was made; PT404 unknown); a member claiming again gets the same answer. Answers the sealed grants for the link''s secret. SECURITY DEFINER because the tables have no write grants.';
revoke execute on function public.claim_invite_link(text) from public, anon;
grant execute on function public.claim_invite_link(text) to authenticated;

drop function public.rotate_vault_key(uuid, int, jsonb, jsonb);
create function public.rotate_vault_key(vault_id uuid, replaces_generation bigint, grants jsonb, owner_key jsonb default null)
returns jsonb
language plpgsql volatile
security definer -- writes vaults, vault_key_grants, vault_keys and invitations, which have no write grants
set search_path = ''
as $$
declare
  uid uuid := private.caller_id();
  caller_role text;
  current_generation bigint;
  grant_count int;
begin
  perform private.require_vault_role(rotate_vault_key.vault_id, 'admin');
  perform private.require_arg('replaces_generation', rotate_vault_key.replaces_generation);
  grant_count := private.check_grants('grants', rotate_vault_key.grants, true, false);
  if rotate_vault_key.owner_key is not null then
    if jsonb_typeof(rotate_vault_key.owner_key) <> 'object' then
      raise exception using errcode = 'PT400', message = 'owner_key must be an object', detail = 'owner_key';
    end if;
    perform private.check_vault_key(rotate_vault_key.owner_key ->> 'encrypted_vault_key',
      rotate_vault_key.owner_key ->> 'salt', rotate_vault_key.owner_key ->> 'nonce');
  end if;

  select v.key_generation into current_generation from public.vaults v where v.id = rotate_vault_key.vault_id for update;
  caller_role := private.require_vault_role(rotate_vault_key.vault_id, 'admin');  -- again, under the lock
  if rotate_vault_key.owner_key is not null and caller_role <> 'owner' then
    raise exception using errcode = 'PT403', message = 'only the owner re-wraps the owner''s key', detail = 'owner_key';
  end if;
  if current_generation <> rotate_vault_key.replaces_generation then
    raise exception using errcode = 'PT409',
      message = format('the vault''s key generation is %s, not %s', current_generation, rotate_vault_key.replaces_generation),
      detail = 'replaces_generation', hint = 'generation_changed';
  end if;

  if grant_count <> (select count(distinct (e ->> 'recipient_id')::uuid) from jsonb_array_elements(rotate_vault_key.grants) e)
     or exists (select from public.vault_members m where m.vault_id = rotate_vault_key.vault_id
                  and m.user_id not in (select (e ->> 'recipient_id')::uuid from jsonb_array_elements(rotate_vault_key.grants) e))
     or exists (select from jsonb_array_elements(rotate_vault_key.grants) e
                where not exists (select from public.vault_members m
                                  where m.vault_id = rotate_vault_key.vault_id and m.user_id = (e ->> 'recipient_id')::uuid)) then
    raise exception using errcode = 'PT409', message = 'grants must name every current member exactly once, and nobody else',
      detail = 'grants', hint = 'members_changed';
  end if;

  insert into public.vault_key_grants (vault_id, key_generation, recipient_id, sender_id, ephemeral_public_key, nonce,
                                       sealed_key, signature)
  select rotate_vault_key.vault_id, current_generation + 1, (e ->> 'recipient_id')::uuid, uid,
         e ->> 'ephemeral_public_key', e ->> 'nonce', e ->> 'sealed_key', e ->> 'signature'
  from jsonb_array_elements(rotate_vault_key.grants) e;
  update public.vaults v set key_generation = current_generation + 1, key_rotation_due = false
  where v.id = rotate_vault_key.vault_id;
  update public.vault_invitations i set status = 'void'
  where i.vault_id = rotate_vault_key.vault_id and i.status = 'pending';
  update public.vault_invite_links l set void = true
  where l.vault_id = rotate_vault_key.vault_id and not l.void;
  if rotate_vault_key.owner_key is not null then
    update public.vault_keys k
    set encrypted_vault_key = rotate_vault_key.owner_key ->> 'encrypted_vault_key',
        salt = rotate_vault_key.owner_key ->> 'salt', nonce = rotate_vault_key.owner_key ->> 'nonce',
        key_generation = current_generation + 1,
        updated_at = greatest(date_trunc('milliseconds', now()), k.updated_at + interval '1 millisecond')
    where k.vault_id = rotate_vault_key.vault_id and k.user_id = uid;
  end if;
  return jsonb_build_object('key_generation', current_generation + 1);
end
$$;
comment on function public.rotate_vault_key(uuid, bigint, jsonb, jsonb) is
  'API: stores generation replaces_generation + 1 of the vault key (grants for exactly the current members, optionally the owner''s re-wrapped copy), voiding older invitations and links; PT409 generation_changed / members_changed. SECURITY DEFINER because the tables have no write grants; access through private.require_vault_role (admins and the owner).';
revoke execute on function public.rotate_vault_key(uuid, bigint, jsonb, jsonb) from public, anon;
grant execute on function public.rotate_vault_key(uuid, bigint, jsonb, jsonb) to authenticated;

create or replace function public.store_own_grants(vault_id uuid, grants jsonb)
returns void
language plpgsql volatile
security definer -- writes vault_key_grants, which has no write grants
set search_path = ''
as $$
declare
  uid uuid := private.caller_id();
  current_generation bigint;
begin
  perform private.require_vault_role(store_own_grants.vault_id, 'reader');
  perform private.check_grants('grants', store_own_grants.grants, false, true);
  select v.key_generation into current_generation from public.vaults v where v.id = store_own_grants.vault_id;
  if exists (select from jsonb_array_elements(store_own_grants.grants) e
             where (e ->> 'key_generation')::bigint > current_generation) then
    raise exception using errcode = 'PT400', message = 'grants[].key_generation must not exceed the vault''s key generation',
      detail = 'grants';
  end if;
  insert into public.vault_key_grants (vault_id, key_generation, recipient_id, sender_id, ephemeral_public_key, nonce,
                                       sealed_key, signature)
  select store_own_grants.vault_id, (e ->> 'key_generation')::bigint, uid, uid, e ->> 'ephemeral_public_key',
         e ->> 'nonce', e ->> 'sealed_key', e ->> 'signature'
  from jsonb_array_elements(store_own_grants.grants) e
  on conflict do nothing;
end
$$;
comment on function public.store_own_grants(uuid, jsonb) is
  'API: a member stores key grants sealed to itself (e.g. after claiming an invite link); existing grants are kept. SECURITY DEFINER because vault_key_grants has no write grants; membership through private.require_vault_role.';
revoke execute on function public.store_own_grants(uuid, jsonb) from public, anon;
grant execute on function public.store_own_grants(uuid, jsonb) to authenticated;

reset lock_timeout;
