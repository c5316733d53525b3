create or replace function private.require_uid()
  returns uuid
  language plpgsql
  stable
  set search_path to ''
  AS $function$
declare
  uid uuid := private.caller_id();
begin
  if uid is null then
    raise exception using errcode = 'PT401', message = 'a signed-in user is required', detail = 'authorization';
  end if;
  -- Only a service_role token naming a user gets here without a session check.
  if not exists (select 1 from auth.users u where u.id = uid) then
    raise exception using errcode = 'PT401', message = 'the token''s user does not exist (deleted account)',
      detail = 'authorization';
  end if;
  return uid;
end
$function$;

comment on function "private"."require_uid"() is 'private.caller_id() of an existing user, or PT401 when the request has no user, its session ended or the user was deleted. Used by the SECURITY DEFINER functions.';

revoke all on function "private"."require_uid"() from public;

grant execute on function "private"."require_uid"() to "postgres";
