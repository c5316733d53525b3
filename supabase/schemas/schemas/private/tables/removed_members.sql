create table "private"."removed_members" (
  "vault_id"   uuid                     not null,
  "user_id"    uuid                     not null,
  "removed_at" timestamp with time zone not null default now(),
  constraint "removed_members_pkey" primary key (vault_id, user_id),
  constraint "removed_members_user_id_fkey" foreign key (user_id) references auth.users(id) on delete cascade,
  constraint "removed_members_vault_id_fkey" foreign key (vault_id) references public.vaults(id) on delete cascade
);

alter table "private"."removed_members"
  enable row level security;

create index removed_members_user_id_idx on private.removed_members using btree (user_id);

comment on table "private"."removed_members" is 'The last removal (or leaving) of each user from each vault; invitations and links made before it cannot bring them back.';

grant delete, insert, maintain, references, select, trigger, truncate, update on table "private"."removed_members" to "postgres";
