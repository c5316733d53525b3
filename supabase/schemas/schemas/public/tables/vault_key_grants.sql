create table "public"."vault_key_grants" (
  "vault_id"             uuid                     not null,
  "key_generation"       bigint                   not null,
  "recipient_id"         uuid                     not null,
  "sender_id"            uuid                     not null,
  "ephemeral_public_key" text                     not null,
  "nonce"                text                     not null,
  "sealed_key"           text                     not null,
  "signature"            text                     not null,
  "created_at"           timestamp with time zone not null default now(),
  constraint "vault_key_grants_key_generation_check" check ((key_generation >= 1)),
  constraint "vault_key_grants_pkey" primary key (vault_id, key_generation, recipient_id),
  constraint "vault_key_grants_recipient_id_fkey" foreign key (recipient_id) references auth.users(id) on delete cascade,
  constraint "vault_key_grants_vault_id_fkey" foreign key (vault_id) references public.vaults(id) on delete cascade
);

alter table "public"."vault_key_grants"
  enable row level security;

create index vault_key_grants_recipient_id_idx on public.vault_key_grants using btree (recipient_id, vault_id, key_generation);

create policy "Members can read their own key grants" on "public"."vault_key_grants"
  for select
  to "authenticated"
  using (((recipient_id = ( select private.caller_id() as caller_id)) AND (vault_id in ( select private.member_vault_ids() as member_vault_ids))));

comment on table "public"."vault_key_grants" is 'Vault keys per member and generation, sealed to the member''s identity and signed by the sender. Members read their own.';

revoke all on table "public"."vault_key_grants" from "authenticated";

grant select on table "public"."vault_key_grants" to "authenticated";

grant delete, insert, maintain, references, select, trigger, truncate, update on table "public"."vault_key_grants" to "postgres", "service_role";
