create or replace function public.remove_member (
  vault_id uuid,
  user_id  uuid
)
  returns void
  language plpgsql
  security definer
  set search_path to ''
  AS $function$
begin
  perform private.lock_vault_for_member_change(remove_member.vault_id, remove_member.user_id);
  perform private.drop_member(remove_member.vault_id, remove_member.user_id);
end
$function$;

comment on function "public"."remove_member"(uuid, uuid) is 'API: removes a member ranked below the caller (admins and the owner); access ends at once; sets key_rotation_due (rotate next). SECURITY DEFINER because the tables have no write grants; access through private.require_vault_role.';

revoke all on function "public"."remove_member"(uuid, uuid) from public;

grant execute on function "public"."remove_member"(uuid, uuid) to "authenticated", "postgres", "service_role";
