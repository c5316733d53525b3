create or replace function private.check_request()
  returns void
  language plpgsql
  stable
  security definer
  set search_path to ''
  AS $function$
begin
  perform private.caller_id(); -- raises PT401 for an ended session; nothing else to do
end
$function$;

comment on function "private"."check_request"() is 'PostgREST''s db-pre-request hook: PT401 (hint session_revoked / session_required) before any request of an ended session.';

revoke all on function "private"."check_request"() from public;

grant execute on function "private"."check_request"() to "anon", "authenticated", "postgres", "service_role";
