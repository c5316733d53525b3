create or replace function private.drop_member (
  p_vault_id uuid,
  p_user_id  uuid
)
  returns void
  language sql
  set search_path to ''
  AS $function$
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
$function$;

comment on function "private"."drop_member"(uuid, uuid) is 'Removes a member: row, key grants, invitations to and by them, links by them; records the removal; sets key_rotation_due. Caller holds the vault lock.';

revoke all on function "private"."drop_member"(uuid, uuid) from public;

grant execute on function "private"."drop_member"(uuid, uuid) to "postgres";
