-- Invitations by email of an existing user (issue 18 item 3). The inviter's device seals the vault
-- key of the current generation (and of past ones it holds, so the newcomer reads the history) to
-- the invitee's X25519 key and signs each sealed grant; the server keeps them on the invitation
-- until the invitee accepts, then moves them to vault_key_grants and adds the member, atomically.
--
-- Rules: admins and the owner invite; only the owner invites admins. An invitation is for the
-- vault's current key generation and becomes void when the key rotates (rotate_vault_key). Expiry
-- defaults to 7 days. One pending invitation per vault and invitee (a new one voids the old).
-- Accepting is idempotent. Locks: vault row (FOR SHARE: excludes a concurrent rotation, admits other
-- accepts), then the invitation row; rotate_vault_key takes them in the same order.

set lock_timeout = '1s'; -- new objects; the foreign keys lock the referenced tables briefly

create table public.vault_invitations (
  id uuid primary key default gen_random_uuid(),
  vault_id uuid not null references public.vaults (id) on delete cascade,
  inviter_id uuid not null references auth.users (id) on delete cascade,
  invitee_id uuid not null references auth.users (id) on delete cascade,
  role text not null check (role in ('admin', 'writer', 'reader')),
  key_generation bigint not null,
  grants jsonb not null,
  status text not null default 'pending' check (status in ('pending', 'accepted', 'declined', 'void')),
  expires_at timestamptz not null,
  created_at timestamptz not null default now()
);
comment on table public.vault_invitations is
  'Invitations to vaults, with the vault keys sealed to the invitee. Only through invite_member, list_invitations, accept_invitation, decline_invitation.';
create index vault_invitations_invitee_id_idx on public.vault_invitations (invitee_id, status);
create index vault_invitations_vault_id_idx on public.vault_invitations (vault_id, status);
create index vault_invitations_inviter_id_idx on public.vault_invitations (inviter_id);

-- No grants and no policies: API roles use the functions below.
alter table public.vault_invitations enable row level security;
revoke all on table public.vault_invitations from anon, authenticated;

create function public.invite_member(vault_id uuid, invitee_id uuid, role text, key_generation int, grants jsonb,
  expires_in_seconds int default 604800)
returns jsonb
language plpgsql volatile
security definer -- writes vault_invitations, which has no grants
set search_path = ''
as $$
declare
  uid uuid := private.caller_id();
  caller_role text := private.require_vault_role(invite_member.vault_id, 'admin');
  current_generation int;
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
  if invite_member.key_generation <> current_generation then
    raise exception using errcode = 'PT409', message = format('the vault''s key generation is %s', current_generation),
      detail = 'key_generation', hint = 'stale_key_generation';
  end if;
  if not exists (select from jsonb_array_elements(invite_member.grants) e
                 where (e ->> 'key_generation')::int = current_generation)
     or exists (select from jsonb_array_elements(invite_member.grants) e
                where (e ->> 'key_generation')::int > current_generation) then
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
comment on function public.invite_member(uuid, uuid, text, int, jsonb, int) is
  'API: invites a user with an identity to a vault (admins and the owner; admins only by the owner) with the vault keys sealed to them; PT409 stale_key_generation after a rotation, already_member. SECURITY DEFINER because vault_invitations has no grants; access through private.require_vault_role.';
revoke execute on function public.invite_member(uuid, uuid, text, int, jsonb, int) from public, anon;
grant execute on function public.invite_member(uuid, uuid, text, int, jsonb, int) to authenticated;

create function public.list_invitations()
returns table (id uuid, vault_id uuid, role text, key_generation int, expires_at timestamptz, created_at timestamptz,
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

create function public.accept_invitation(invitation_id uuid)
returns jsonb
language plpgsql volatile
security definer -- writes vault_members and vault_key_grants, which have no write grants
set search_path = ''
as $$
declare
  uid uuid := private.require_uid();  -- PT401 without a user, an ended session or a deleted account
  target uuid;
  current_generation int;
  invitation public.vault_invitations;
  member_role text;
begin
  perform private.require_arg('invitation_id', accept_invitation.invitation_id);
  select i.vault_id into target from public.vault_invitations i
  where i.id = accept_invitation.invitation_id and i.invitee_id = uid;
  if not found then
    raise exception using errcode = 'PT404', message = 'invitation not found', detail = 'invitation_id';
  end if;
  -- Lock order: vault, then invitation (as rotate_vault_key).
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

  insert into public.vault_members (vault_id, user_id, role, added_by)
  values (target, uid, invitation.role, invitation.inviter_id)
  on conflict do nothing;
  insert into public.vault_key_grants (vault_id, key_generation, recipient_id, sender_id, ephemeral_public_key, nonce,
                                       sealed_key, signature)
  select target, (e ->> 'key_generation')::int, uid, invitation.inviter_id, e ->> 'ephemeral_public_key',
         e ->> 'nonce', e ->> 'sealed_key', e ->> 'signature'
  from jsonb_array_elements(invitation.grants) e
  on conflict do nothing;
  update public.vault_invitations i set status = 'accepted' where i.id = invitation.id;
  member_role := (select m.role from public.vault_members m where m.vault_id = target and m.user_id = uid);
  return jsonb_build_object('vault_id', target, 'role', member_role, 'key_generation', invitation.key_generation);
end
$$;
comment on function public.accept_invitation(uuid) is
  'API: the invitee joins the vault with the invitation''s role and key grants, atomically and idempotently; PT404 for no such invitation of the caller, PT409 invitation_expired / invitation_closed. SECURITY DEFINER because the tables have no write grants; the invitation must name the caller.';
revoke execute on function public.accept_invitation(uuid) from public, anon;
grant execute on function public.accept_invitation(uuid) to authenticated;

create function public.decline_invitation(invitation_id uuid)
returns void
language plpgsql volatile
security definer -- writes vault_invitations, which has no grants
set search_path = ''
as $$
begin
  update public.vault_invitations i set status = 'declined'
  where i.id = decline_invitation.invitation_id and i.invitee_id = (select private.caller_id()) and i.status = 'pending';
  if not found then
    raise exception using errcode = 'PT404', message = 'invitation not found', detail = 'invitation_id';
  end if;
end
$$;
comment on function public.decline_invitation(uuid) is
  'API: declines a pending invitation of the caller; PT404 otherwise. SECURITY DEFINER because vault_invitations has no grants.';
revoke execute on function public.decline_invitation(uuid) from public, anon;
grant execute on function public.decline_invitation(uuid) to authenticated;

reset lock_timeout;
