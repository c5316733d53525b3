create or replace function public.accept_invitation (
  invitation_id uuid
)
  returns jsonb
  language plpgsql
  security definer
  set search_path to ''
  AS $function$
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
$function$;

comment on function "public"."accept_invitation"(uuid) is 'API: the invitee joins the vault with the invitation''s role and key grants, atomically and idempotently; PT404 for no such invitation of the caller, PT409 invitation_expired / invitation_closed (also when the inviter may no longer invite, or the caller was removed after it was made). SECURITY DEFINER because the tables have no write grants; the invitation must name the caller.';

revoke all on function "public"."accept_invitation"(uuid) from public;

grant execute on function "public"."accept_invitation"(uuid) to "authenticated", "postgres", "service_role";
