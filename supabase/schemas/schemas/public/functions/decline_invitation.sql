create or replace function public.decline_invitation (
  invitation_id uuid
)
  returns void
  language plpgsql
  security definer
  set search_path to ''
  AS $function$
begin
  update public.vault_invitations i set status = 'declined'
  where i.id = decline_invitation.invitation_id and i.invitee_id = (select private.caller_id()) and i.status = 'pending';
  if not found then
    raise exception using errcode = 'PT404', message = 'invitation not found', detail = 'invitation_id';
  end if;
end
$function$;

comment on function "public"."decline_invitation"(uuid) is 'API: declines a pending invitation of the caller; PT404 otherwise. SECURITY DEFINER because vault_invitations has no grants.';

revoke all on function "public"."decline_invitation"(uuid) from public;

grant execute on function "public"."decline_invitation"(uuid) to "authenticated", "postgres", "service_role";
