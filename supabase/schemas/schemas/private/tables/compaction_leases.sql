create table "private"."compaction_leases" (
  "vault_id"   uuid                     not null,
  "expires_at" timestamp with time zone not null,
  constraint "compaction_leases_pkey" primary key (vault_id),
  constraint "compaction_leases_vault_id_fkey" foreign key (vault_id) references public.vaults(id) on delete cascade
);

alter table "private"."compaction_leases"
  enable row level security;

comment on table "private"."compaction_leases" is 'Per vault: until when the push that was last told compaction_due: true has the job (push_logs tells nobody else meanwhile).';

grant delete, insert, maintain, references, select, trigger, truncate, update on table "private"."compaction_leases" to "postgres";
