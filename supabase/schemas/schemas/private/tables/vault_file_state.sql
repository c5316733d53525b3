create table "private"."vault_file_state" (
  "vault_id"            uuid                     not null,
  "file_bytes"          bigint                   not null default 0,
  "deletion_started_at" timestamp with time zone,
  constraint "vault_file_state_file_bytes_check" check ((file_bytes >= 0)),
  constraint "vault_file_state_pkey" primary key (vault_id),
  constraint "vault_file_state_vault_id_fkey" foreign key (vault_id) references public.vaults(id) on delete cascade
);

alter table "private"."vault_file_state"
  enable row level security;

comment on table "private"."vault_file_state" is 'Per vault: file_bytes (sum of vault_files.stored_bytes) and deletion_started_at (prepare_vault_deletion: no new file objects).';

grant delete, insert, maintain, references, select, trigger, truncate, update on table "private"."vault_file_state" to "postgres";
