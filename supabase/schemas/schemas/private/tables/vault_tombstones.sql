create table "private"."vault_tombstones" (
  "vault_id"   uuid                     not null,
  "deleted_at" timestamp with time zone not null default now(),
  constraint "vault_tombstones_pkey" primary key (vault_id)
);

alter table "private"."vault_tombstones"
  enable row level security;

comment on table "private"."vault_tombstones" is 'Ids of deleted vaults, kept for good so that an id is never reused (create_vault answers PT409 vault_deleted).';

grant delete, insert, maintain, references, select, trigger, truncate, update on table "private"."vault_tombstones" to "postgres";
