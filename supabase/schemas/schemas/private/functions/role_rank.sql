create or replace function private.role_rank (
  role text
)
  returns integer
  language sql
  immutable
  set search_path to ''
  AS $function$
  select case role when 'owner' then 4 when 'admin' then 3 when 'writer' then 2 when 'reader' then 1 else 0 end
$function$;

comment on function "private"."role_rank"(text) is 'Order of the roles: owner 4 > admin 3 > writer 2 > reader 1; anything else 0.';

revoke all on function "private"."role_rank"(text) from public;

grant execute on function "private"."role_rank"(text) to "postgres";
