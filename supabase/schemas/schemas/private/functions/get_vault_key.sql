create or replace function private.get_vault_key (
  p_vault_id uuid
)
  returns public.vault_keys
  language plpgsql
  stable
  set search_path to ''
  AS $function$
declare
  uid uuid := private.require_uid();
  result public.vault_keys;
begin
  perform private.require_arg('vault_id', p_vault_id);
  select k.* into result
  from public.vault_keys k
  join public.vaults v on v.id = k.vault_id
  where k.vault_id = p_vault_id and k.user_id = uid and v.owner_id = uid;
  if not found then
    raise exception using errcode = 'PT404', message = 'vault not found', detail = 'vault_id';
  end if;
  return result;
end
$function$;

comment on function "private"."get_vault_key"(uuid) is 'Implementation of public.get_vault_key.';

revoke all on function "private"."get_vault_key"(uuid) from public;

grant execute on function "private"."get_vault_key"(uuid) to "postgres";
