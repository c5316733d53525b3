create table "public"."identities" (
  "user_id"               uuid                     not null,
  "encryption_public_key" text                     not null,
  "signing_public_key"    text                     not null,
  "signature"             text                     not null,
  "created_at"            timestamp with time zone not null default now(),
  constraint "identities_encryption_public_key_check" check ((length(encryption_public_key) = 44)),
  constraint "identities_pkey" primary key (user_id),
  constraint "identities_signature_check" check ((length(signature) = 88)),
  constraint "identities_signing_public_key_check" check ((length(signing_public_key) = 44)),
  constraint "identities_user_id_fkey" foreign key (user_id) references auth.users(id) on delete cascade
);

alter table "public"."identities"
  enable row level security;

create policy "Signed in users can read identities" on "public"."identities"
  for select
  to "authenticated"
  using (true);

comment on table "public"."identities" is 'Public identity keys of users (X25519 for receiving, Ed25519 for signing), self-signed. Every signed-in user reads them; written by create_identity.';

revoke all on table "public"."identities" from "authenticated";

grant select on table "public"."identities" to "authenticated";

grant delete, insert, maintain, references, select, trigger, truncate, update on table "public"."identities" to "postgres", "service_role";
