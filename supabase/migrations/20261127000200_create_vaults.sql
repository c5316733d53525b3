-- public.vaults: one row per vault. The id is chosen by the client (the vault exists locally before
-- it is synced). The row is also the vault's push lock: push_logs takes it FOR UPDATE, which
-- serialises pushes to one vault and leaves pushes to other vaults alone.
--
-- Clients read their own rows directly (supabase.from('vaults').select()); every write goes
-- through the functions (create_vault, push_logs, delete_vault), so clients can never set
-- last_sequence, bytes or owner_id.

create table public.vaults (
  id uuid primary key,
  owner_id uuid not null references auth.users (id) on delete cascade,
  -- The sequence of the vault's newest log; 0 while it has none. Sequences are gap-free, so this is
  -- also the number of logs (list_vaults reports it as log_count).
  last_sequence bigint not null default 0 check (last_sequence >= 0),
  -- Sum over the vault's logs of octet_length(encrypted_data) + octet_length(nonce) +
  -- octet_length(haex_timestamp), maintained by push_logs so that list_vaults needs no scan.
  bytes bigint not null default 0 check (bytes >= 0),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

comment on table public.vaults is
  'haex-sync vaults. Owners read their rows; all writes go through create_vault, push_logs and delete_vault.';
comment on column public.vaults.id is 'Chosen by the client.';
comment on column public.vaults.last_sequence is
  'Sequence of the newest log (0: none). Gap-free, so also the number of logs.';
comment on column public.vaults.bytes is
  'Sum of octet_length(encrypted_data) + octet_length(nonce) + octet_length(haex_timestamp) of the vault''s logs.';
comment on column public.vaults.updated_at is 'Last push that stored a log (or creation).';

-- The RLS policy reads owner_id; auth.users deletions cascade through it.
create index vaults_owner_id_idx on public.vaults (owner_id);

alter table public.vaults enable row level security;

-- Hosted Supabase grants ALL on new tables in public to anon and authenticated by default.
revoke all on table public.vaults from anon, authenticated;
grant select on table public.vaults to authenticated;

-- Only SELECT is granted, so only SELECT has a policy: inserts, updates and deletes by API roles
-- are refused by the missing grant before RLS is even consulted.
create policy "Owners can read their vaults"
  on public.vaults for select to authenticated
  using (owner_id = (select auth.uid()));
