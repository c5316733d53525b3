-- public.vault_keys: a user's copy of the vault key, encrypted on the client with a key derived
-- from the user's password (salt) — the server only stores opaque base64.
--
-- created_at/updated_at are kept at millisecond precision (see update_vault_key): a JavaScript
-- Date round-trips them exactly, which the optimistic check of update_vault_key relies on.

create table public.vault_keys (
  vault_id uuid not null references public.vaults (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  encrypted_vault_key text not null,
  salt text not null,
  nonce text not null,
  created_at timestamptz not null default date_trunc('milliseconds', now()),
  updated_at timestamptz not null default date_trunc('milliseconds', now()),
  primary key (vault_id, user_id)
);

comment on table public.vault_keys is
  'Per-user encrypted vault keys (base64). Users read their rows; writes go through create_vault and update_vault_key.';
comment on column public.vault_keys.updated_at is
  'Millisecond precision, strictly increasing per row; update_vault_key compares it for optimistic concurrency.';

-- The RLS policy reads user_id (the primary key leads with vault_id); auth.users deletions cascade through it.
create index vault_keys_user_id_idx on public.vault_keys (user_id);

alter table public.vault_keys enable row level security;

revoke all on table public.vault_keys from anon, authenticated;
grant select on table public.vault_keys to authenticated;

create policy "Users can read their own vault keys"
  on public.vault_keys for select to authenticated
  using (user_id = (select auth.uid()));
