create or replace function private.add_vault_owner_member()
  returns trigger
  language plpgsql
  set search_path to ''
  AS $function$
begin
  insert into public.vault_members (vault_id, user_id, role) values (new.id, new.owner_id, 'owner');
  return null;
end
$function$;

comment on function "private"."add_vault_owner_member"() is 'Trigger: a new vault''s owner becomes its owner member. Runs as the inserting role (create_vault''s owner); no API role inserts vaults.';

revoke all on function "private"."add_vault_owner_member"() from public;

grant execute on function "private"."add_vault_owner_member"() to "postgres";
