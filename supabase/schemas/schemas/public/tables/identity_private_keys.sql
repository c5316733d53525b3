create table "public"."identity_private_keys" (
  "user_id"                uuid                     not null,
  "encrypted_private_keys" text                     not null,
  "salt"                   text                     not null,
  "nonce"                  text                     not null,
  "created_at"             timestamp with time zone not null default now(),
  constraint "identity_private_keys_pkey" primary key (user_id),
  constraint "identity_private_keys_user_id_fkey" foreign key (user_id) references auth.users(id) on delete cascade
);

alter table "public"."identity_private_keys"
  enable row level security;

create policy "Users can read their own identity private keys" on "public"."identity_private_keys"
  for select
  to "authenticated"
  using ((user_id = ( select private.caller_id() as caller_id)));

comment on table "public"."identity_private_keys" is 'A user''s identity private keys, wrapped on the device under PBKDF2-SHA256(secret) and AES-256-GCM. Only the user reads them.';

revoke all on table "public"."identity_private_keys" from "authenticated";

grant select on table "public"."identity_private_keys" to "authenticated";

grant delete, insert, maintain, references, select, trigger, truncate, update on table "public"."identity_private_keys" to "postgres", "service_role";
