create table "public"."vault_invite_links" (
  "id"             uuid                     not null default gen_random_uuid(),
  "vault_id"       uuid                     not null,
  "created_by"     uuid                     not null,
  "token_hash"     text                     not null,
  "role"           text                     not null,
  "key_generation" bigint                   not null,
  "grants"         jsonb                    not null,
  "max_uses"       bigint                   not null,
  "used"           bigint                   not null default 0,
  "void"           boolean                  not null default false,
  "expires_at"     timestamp with time zone not null,
  "created_at"     timestamp with time zone not null default now(),
  constraint "vault_invite_links_check" check (((used >= 0) AND (used <= max_uses))),
  constraint "vault_invite_links_created_by_fkey" foreign key (created_by) references auth.users(id) on delete cascade,
  constraint "vault_invite_links_max_uses_check" check (((max_uses >= 1) AND (max_uses <= 1000))),
  constraint "vault_invite_links_pkey" primary key (id),
  constraint "vault_invite_links_role_check" check ((role = ANY (ARRAY['admin'::text, 'writer'::text, 'reader'::text]))),
  constraint "vault_invite_links_token_hash_key" unique (token_hash),
  constraint "vault_invite_links_vault_id_fkey" foreign key (vault_id) references public.vaults(id) on delete cascade
);

alter table "public"."vault_invite_links"
  enable row level security;

create index vault_invite_links_created_by_idx on public.vault_invite_links using btree (created_by);

create index vault_invite_links_vault_id_idx on public.vault_invite_links using btree (vault_id);

comment on table "public"."vault_invite_links" is 'Invite links: SHA-256 of the token, role, uses, expiry, and the vault keys sealed under the link''s secret. Only through create_invite_link and claim_invite_link.';

grant delete, insert, maintain, references, select, trigger, truncate, update on table "public"."vault_invite_links" to "postgres", "service_role";
