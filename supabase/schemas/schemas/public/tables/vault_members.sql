create table "public"."vault_members" (
  "vault_id"   uuid                     not null,
  "user_id"    uuid                     not null,
  "role"       text                     not null,
  "added_by"   uuid,
  "created_at" timestamp with time zone not null default now(),
  constraint "vault_members_added_by_fkey" foreign key (added_by) references auth.users(id) on delete set null,
  constraint "vault_members_pkey" primary key (vault_id, user_id),
  constraint "vault_members_role_check" check ((role = ANY (ARRAY['owner'::text, 'admin'::text, 'writer'::text, 'reader'::text]))),
  constraint "vault_members_user_id_fkey" foreign key (user_id) references auth.users(id) on delete cascade,
  constraint "vault_members_vault_id_fkey" foreign key (vault_id) references public.vaults(id) on delete cascade
);

alter table "public"."vault_members"
  enable row level security;

create index vault_members_added_by_idx on public.vault_members using btree (added_by);

create unique index vault_members_one_owner_idx on public.vault_members using btree (vault_id)
  where (role = 'owner'::text);

create index vault_members_user_id_vault_id_idx on public.vault_members using btree (user_id, vault_id);

create trigger mark_rotation_due
  after delete on public.vault_members
  for each row
  execute function private.mark_rotation_due();

create policy "Members can read the members of their vaults" on "public"."vault_members"
  for select
  to "authenticated"
  using ((vault_id in ( select private.member_vault_ids() as member_vault_ids)));

comment on table "public"."vault_members" is 'Members of a vault and their role (owner, admin, writer, reader). Members read the rows of their vaults; writes go through the sharing functions.';

revoke all on table "public"."vault_members" from "authenticated";

grant select on table "public"."vault_members" to "authenticated";

grant delete, insert, maintain, references, select, trigger, truncate, update on table "public"."vault_members" to "postgres", "service_role";
