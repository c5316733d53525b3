-- The private Storage bucket `vault-files` and its policies on storage.objects (issue 26,
-- docs/files.md). Objects are named `<vault_id>/<file_id>/header` and `<vault_id>/<file_id>/c/<index>`;
-- the first path segment decides, through the access helpers:
--
--   read (select)              any member of the vault (reader and above)
--   add, replace, remove       writers and above; adding and replacing stop once the owner began
--                              deleting the vault (prepare_vault_deletion)
--
-- Removed members, revoked sessions (private.caller_id raises PT401) and strangers get nothing; anon
-- has no policy. Hosted Supabase runs these unchanged: projects may add policies on storage.objects,
-- and a migration may insert the bucket row (as `supabase start` does from config.toml).
--
-- The bucket's size limit is one sealed chunk of the largest chunk size (17 MiB: 16 MiB + 28 bytes, rounded as config.toml writes it): any
-- larger object is not a file chunk; its type is application/octet-stream (ciphertext).

set lock_timeout = '1s';

insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
values ('vault-files', 'vault-files', false, 17825792, array['application/octet-stream'])
on conflict (id) do nothing;

-- The vault an object name belongs to (its first path segment), or null for any other name.
create function private.vault_of_object(object_name text) returns uuid
language sql immutable
set search_path = ''
as $$
  select case when object_name ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/'
    then substr(object_name, 1, 36)::uuid end
$$;
comment on function private.vault_of_object(text) is
  'The vault id of a vault-files object name (<vault_id>/...), null for any other name.';
revoke execute on function private.vault_of_object(text) from public, anon;
grant execute on function private.vault_of_object(text) to authenticated;

-- For the write policies: may the caller add, replace or remove this object?
create function private.can_write_vault_object(object_name text, adding boolean) returns boolean
language sql stable
security definer -- reads vault_file_state and calls role_rank, which the caller may not
set search_path = ''
as $$
  select coalesce(private.role_rank(private.vault_role(private.vault_of_object(object_name))) >= private.role_rank('writer'), false)
    and not (adding and exists (select from private.vault_file_state s
                                where s.vault_id = private.vault_of_object(object_name) and s.deletion_started_at is not null))
$$;
comment on function private.can_write_vault_object(text, boolean) is
  'True when the caller is a writer, admin or owner of the object''s vault (and, when adding, the vault is not being deleted).';
revoke execute on function private.can_write_vault_object(text, boolean) from public, anon;
grant execute on function private.can_write_vault_object(text, boolean) to authenticated;

-- Reads: one hashed subplan per statement (a listing of 1,000 chunks pays one membership lookup).
create policy "Members can read the files of their vaults" on storage.objects
  for select to authenticated
  using (bucket_id = 'vault-files' and private.vault_of_object(name) in (select private.member_vault_ids()));
create policy "Writers can add files to their vaults" on storage.objects
  for insert to authenticated
  with check (bucket_id = 'vault-files' and private.can_write_vault_object(name, true));
create policy "Writers can replace file objects of their vaults" on storage.objects
  for update to authenticated
  using (bucket_id = 'vault-files' and private.can_write_vault_object(name, false))
  with check (bucket_id = 'vault-files' and private.can_write_vault_object(name, true));
create policy "Writers can remove file objects of their vaults" on storage.objects
  for delete to authenticated
  using (bucket_id = 'vault-files' and private.can_write_vault_object(name, false));

reset lock_timeout;
