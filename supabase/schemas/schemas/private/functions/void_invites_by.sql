create or replace function private.void_invites_by (
  p_vault_id uuid,
  p_user_id  uuid
)
  returns void
  language sql
  set search_path to ''
  AS $function$
  update public.vault_invitations i set status = 'void'
  where i.vault_id = p_vault_id and i.inviter_id = p_user_id and i.status = 'pending';
  update public.vault_invite_links l set void = true
  where l.vault_id = p_vault_id and l.created_by = p_user_id and not l.void;
$function$;

comment on function "private"."void_invites_by"(uuid, uuid) is 'Voids the pending invitations and the links a user made in a vault (they were removed, or demoted below admin). Caller holds the vault lock.';

revoke all on function "private"."void_invites_by"(uuid, uuid) from public;

grant execute on function "private"."void_invites_by"(uuid, uuid) to "postgres";
