create or replace function private.may_still_invite (
  p_vault_id   uuid,
  p_inviter_id uuid,
  p_role       text,
  p_since      timestamp with time zone
)
  returns boolean
  language sql
  stable
  set search_path to ''
  AS $function$
  -- The inviter is still an admin (the owner, for an admin's invitation) and was not removed since.
  select exists (select from public.vault_members m
                 where m.vault_id = p_vault_id and m.user_id = p_inviter_id
                   and private.role_rank(m.role) >= private.role_rank(case when p_role = 'admin' then 'owner' else 'admin' end))
     and not private.removed_since(p_vault_id, p_inviter_id, p_since)
$function$;

comment on function "private"."may_still_invite"(uuid, uuid, text, timestamp with time zone) is 'True when p_inviter_id may still invite p_role to the vault (admin, owner for admins) and was not removed since p_since. Callers hold the vault lock.';

revoke all on function "private"."may_still_invite"(uuid, uuid, text, timestamp with time zone) from public;

grant execute on function "private"."may_still_invite"(uuid, uuid, text, timestamp with time zone) to "postgres";
