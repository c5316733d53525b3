create table "public"."vault_keys" (
  "vault_id"            uuid                     not null,
  "user_id"             uuid                     not null,
  "encrypted_vault_key" text                     not null,
  "salt"                text                     not null,
  "nonce"               text                     not null,
  "created_at"          timestamp with time zone not null default date_trunc('milliseconds'::text, now()),
  "updated_at"          timestamp with time zone not null default date_trunc('milliseconds'::text, now()),
  "key_generation"      bigint                   not null default 1,
  constraint "vault_keys_pkey" primary key (vault_id, user_id),
  constraint "vault_keys_user_id_fkey" foreign key (user_id) references auth.users(id) on delete cascade,
  constraint "vault_keys_vault_id_fkey" foreign key (vault_id) references public.vaults(id) on delete cascade
);

alter table "public"."vault_keys"
  enable row level security;

create index vault_keys_user_id_idx on public.vault_keys using btree (user_id);

create policy "Users can read their own vault keys" on "public"."vault_keys"
  for select
  to "authenticated"
  using ((user_id = ( select private.caller_id() as caller_id)));

comment on column "public"."vault_keys"."key_generation" is 'Generation of the vault key this password-wrapped copy holds.';

comment on column "public"."vault_keys"."updated_at" is 'Millisecond precision, strictly increasing per row; update_vault_key compares it for optimistic concurrency.';

comment on table "public"."vault_keys" is 'Per-user encrypted vault keys (base64). Users read their rows; writes go through create_vault and update_vault_key.';

revoke all on table "public"."vault_keys" from "authenticated";

grant select on table "public"."vault_keys" to "authenticated";

grant delete, insert, maintain, references, select, trigger, truncate, update on table "public"."vault_keys" to "postgres", "service_role";
