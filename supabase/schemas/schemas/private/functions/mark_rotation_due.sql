create or replace function private.mark_rotation_due()
  returns trigger
  language plpgsql
  set search_path to ''
  AS $function$
begin
  update public.vaults v set key_rotation_due = true where v.id = old.vault_id and not v.key_rotation_due;
  return null;
end
$function$;

comment on function "private"."mark_rotation_due"() is 'Trigger: a member''s row is gone (removed, left, account deleted): the vault''s key rotation is due.  Runs as the deleting role: the owner of the sharing functions, or (a cascade) the table''s owner.';

revoke all on function "private"."mark_rotation_due"() from public;

grant execute on function "private"."mark_rotation_due"() to "postgres";
