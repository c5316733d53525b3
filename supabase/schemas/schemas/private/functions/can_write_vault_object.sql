create or replace function private.can_write_vault_object (
  object_name text,
  adding      boolean
)
  returns boolean
  language sql
  stable
  security definer
  set search_path to ''
  AS $function$
  select coalesce(private.role_rank(private.vault_role(private.vault_of_object(object_name))) >= private.role_rank('writer'), false)
    and not (adding and exists (select from private.vault_file_state s
                                where s.vault_id = private.vault_of_object(object_name) and s.deletion_started_at is not null))
$function$;

comment on function "private"."can_write_vault_object"(text, boolean) is 'True when the caller is a writer, admin or owner of the object''s vault (and, when adding, the vault is not being deleted).';

revoke all on function "private"."can_write_vault_object"(text, boolean) from public;

grant execute on function "private"."can_write_vault_object"(text, boolean) to "authenticated", "postgres";
