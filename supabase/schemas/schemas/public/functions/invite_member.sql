create or replace function public.invite_member (
  vault_id           uuid,
  invitee_id         uuid,
  role               text,
  key_generation     bigint,
  grants             jsonb,
  expires_in_seconds integer default 604800
)
  returns jsonb
  language plpgsql
  security definer
  set search_path to ''
  AS $function$
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
$function$;

comment on function "public"."invite_member"(uuid, uuid, text, bigint, jsonb, integer) is 'API: invites a user with an identity to a vault (admins and the owner; admins only by the owner) with the vault keys sealed to them; PT409 stale_key_generation after a rotation, already_member. SECURITY DEFINER because vault_invitations has no grants; access through private.require_vault_role.';

revoke all on function "public"."invite_member"(uuid, uuid, text, bigint, jsonb, integer) from public;

grant execute on function "public"."invite_member"(uuid, uuid, text, bigint, jsonb, integer) to "authenticated", "postgres", "service_role";
