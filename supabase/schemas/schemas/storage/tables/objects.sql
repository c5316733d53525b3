create policy "Members can read the files of their vaults" on "storage"."objects"
  for select
  to "authenticated"
  using (((bucket_id = 'vault-files'::text) AND (private.vault_of_object(name) in ( select private.member_vault_ids() as member_vault_ids))));

create policy "Writers can add files to their vaults" on "storage"."objects"
  for insert
  to "authenticated"
  with check (((bucket_id = 'vault-files'::text) AND private.can_write_vault_object(name, true) AND private.vault_object_fits_quota(name, ((metadata ->> 'contentLength'::text))::bigint)));

create policy "Writers can remove file objects of their vaults" on "storage"."objects"
  for delete
  to "authenticated"
  using (((bucket_id = 'vault-files'::text) AND private.can_write_vault_object(name, false)));

create policy "Writers can replace file objects of their vaults" on "storage"."objects"
  for update
  to "authenticated"
  using (((bucket_id = 'vault-files'::text) AND private.can_write_vault_object(name, false)))
  with check (((bucket_id = 'vault-files'::text) AND private.can_write_vault_object(name, true) AND private.vault_object_fits_quota(name, ((metadata ->> 'contentLength'::text))::bigint)));
