create table "public"."vault_files" (
  "vault_id"     uuid                     not null,
  "file_id"      uuid                     not null,
  "size"         bigint                   not null,
  "chunk_count"  bigint                   not null,
  "stored_bytes" bigint                   not null,
  "created_at"   timestamp with time zone not null default now(),
  constraint "vault_files_chunk_count_check" check (((chunk_count >= 1) AND (chunk_count <= '4294967295'::bigint))),
  constraint "vault_files_pkey" primary key (vault_id, file_id),
  constraint "vault_files_size_check" check ((size >= 0)),
  constraint "vault_files_stored_bytes_check" check ((stored_bytes >= 0)),
  constraint "vault_files_vault_id_fkey" foreign key (vault_id) references public.vaults(id) on delete cascade
);

alter table "public"."vault_files"
  enable row level security;

create index vault_files_vault_id_created_at_idx on public.vault_files using btree (vault_id, created_at, file_id);

create policy "Members can read the file records of their vaults" on "public"."vault_files"
  for select
  to "authenticated"
  using ((vault_id in ( select private.member_vault_ids() as member_vault_ids)));

comment on table "public"."vault_files" is 'Complete encrypted files of a vault (issue 26): size in plaintext bytes, chunk_count, stored_bytes of its Storage objects. Members read; writes through register_file and forget_file.';

revoke all on table "public"."vault_files" from "authenticated";

grant select on table "public"."vault_files" to "authenticated";

grant delete, insert, maintain, references, select, trigger, truncate, update on table "public"."vault_files" to "postgres", "service_role";
