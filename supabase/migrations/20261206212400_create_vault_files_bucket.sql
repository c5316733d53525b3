-- Why: the private Storage bucket of encrypted files (issue 26, docs/files.md), as `supabase start`
-- creates it from config.toml's [storage.buckets.vault-files]: not public, objects of at most one sealed
-- chunk of the largest chunk size (16 MiB + 28 bytes, rounded up to 17 MiB as config.toml writes it),
-- of type application/octet-stream (ciphertext). A row, not a schema object: written by hand (pg-delta
-- diffs no data). An existing bucket of that name is left as it is.

set lock_timeout = '1s';

insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
values ('vault-files', 'vault-files', false, 17825792, array['application/octet-stream'])
on conflict (id) do nothing;

reset lock_timeout;
