create table "public"."vault_chain_links" (
  "vault_id"   uuid                     not null,
  "seq"        bigint                   not null,
  "author_id"  uuid                     not null,
  "type"       text                     not null,
  "body"       text                     not null,
  "signature"  text                     not null,
  "hash"       text                     not null,
  "created_at" timestamp with time zone not null default now(),
  constraint "vault_chain_links_body_check" check ((octet_length(body) <= 65536)),
  constraint "vault_chain_links_pkey" primary key (vault_id, seq),
  constraint "vault_chain_links_seq_check" check ((seq >= 0)),
  constraint "vault_chain_links_signature_check" check ((length(signature) = 88)),
  constraint "vault_chain_links_vault_id_fkey" foreign key (vault_id) references public.vaults(id) on delete cascade
);

alter table "public"."vault_chain_links"
  enable row level security;

create policy "Members can read the chain of their vaults" on "public"."vault_chain_links"
  for select
  to "authenticated"
  using ((vault_id in ( select private.member_vault_ids() as member_vault_ids)));

comment on table "public"."vault_chain_links" is 'The signed membership chain of each vault (docs/sharing.md): append-only, numbered from 0, each link naming its predecessor''s hash. Members read it; written by append_chain_link.';

revoke all on table "public"."vault_chain_links" from "authenticated";

grant select on table "public"."vault_chain_links" to "authenticated";

grant delete, insert, maintain, references, select, trigger, truncate, update on table "public"."vault_chain_links" to "postgres", "service_role";
