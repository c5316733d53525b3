create or replace function private.refuse_pushes_past_quota()
  returns trigger
  language plpgsql
  set search_path to ''
  AS $function$
declare
  quota bigint := private.vault_quota(new.id);
  file_bytes bigint;
begin
  if quota is null then
    return new;
  end if;
  file_bytes := coalesce((select s.file_bytes from private.vault_file_state s where s.vault_id = new.id), 0);
  if new.bytes + file_bytes > quota then
    raise exception using errcode = 'PT413',
      message = format('the vault''s quota of %s bytes is used up (%s bytes of logs and files stored)', quota, old.bytes + file_bytes),
      detail = 'logs', hint = 'quota_exceeded';
  end if;
  return new;
end
$function$;

comment on function "private"."refuse_pushes_past_quota"() is 'Trigger on vaults: a push that would take the vault''s logs and files past its quota fails with PT413 hint quota_exceeded (the push''s transaction, and so its logs, are rolled back).';

revoke all on function "private"."refuse_pushes_past_quota"() from public;

grant execute on function "private"."refuse_pushes_past_quota"() to "postgres";
