create table "public"."vault_invitations" (
  "id"             uuid                     not null default gen_random_uuid(),
  "vault_id"       uuid                     not null,
  "inviter_id"     uuid                     not null,
  "invitee_id"     uuid                     not null,
  "role"           text                     not null,
  "key_generation" bigint                   not null,
  "grants"         jsonb                    not null,
  "status"         text                     not null default 'pending'::text,
  "expires_at"     timestamp with time zone not null,
  "created_at"     timestamp with time zone not null default now(),
  constraint "vault_invitations_invitee_id_fkey" foreign key (invitee_id) references auth.users(id) on delete cascade,
  constraint "vault_invitations_inviter_id_fkey" foreign key (inviter_id) references auth.users(id) on delete cascade,
  constraint "vault_invitations_pkey" primary key (id),
  constraint "vault_invitations_role_check" check ((role = ANY (ARRAY['admin'::text, 'writer'::text, 'reader'::text]))),
  constraint "vault_invitations_status_check" check ((status = ANY (ARRAY['pending'::text, 'accepted'::text, 'declined'::text, 'void'::text]))),
  constraint "vault_invitations_vault_id_fkey" foreign key (vault_id) references public.vaults(id) on delete cascade
);

alter table "public"."vault_invitations"
  enable row level security;

create index vault_invitations_invitee_id_idx on public.vault_invitations using btree (invitee_id, status);

create index vault_invitations_inviter_id_idx on public.vault_invitations using btree (inviter_id);

create index vault_invitations_vault_id_idx on public.vault_invitations using btree (vault_id, status);

comment on table "public"."vault_invitations" is 'Invitations to vaults, with the vault keys sealed to the invitee. Only through invite_member, list_invitations, accept_invitation, decline_invitation.';

grant delete, insert, maintain, references, select, trigger, truncate, update on table "public"."vault_invitations" to "postgres", "service_role";
