-- public.vault_logs: the append-only, end-to-end-encrypted change log of each vault.
--
-- sequence: 1, 2, 3, ... per vault, gap-free, assigned only by push_logs under the vault's row
-- lock (see push_logs). id: chosen by the client as idempotency key; a retried push finds it.
-- Only the vault owner can push, so author_id is always the owner; the RLS policy reads author_id because
-- that needs no join per row on the pull hot path.

create table public.vault_logs (
  vault_id uuid not null references public.vaults (id) on delete cascade,
  sequence bigint not null check (sequence >= 1),
  id uuid not null,
  author_id uuid not null references auth.users (id) on delete cascade,
  device_id text null,
  encrypted_data text not null,
  nonce text not null,
  haex_timestamp text not null,
  created_at timestamptz not null default now(),
  primary key (vault_id, sequence),
  unique (vault_id, id)
);

comment on table public.vault_logs is
  'Encrypted change logs. Owners read them (pull_logs or a direct select); writes go through push_logs only.';
comment on column public.vault_logs.sequence is 'Per vault: 1, 2, 3, ... gap-free, in commit order.';
comment on column public.vault_logs.id is 'Chosen by the client (idempotency key), unique per vault.';

-- The RLS policy reads author_id, and auth.users deletions cascade through it, so author_id leads an
-- index. It continues with (vault_id, sequence) on purpose: the planner cannot know the value of
-- (select auth.uid()) when planning and may estimate `author_id = uid` as very selective; with a
-- plain (author_id) index it then picked a bitmap scan of ALL the author's logs plus a sort for a
-- pull (seen in tests/sql-explain.test.ts with many users). With this index any choice it makes is an
-- ordered range scan on (vault_id, sequence) that stops after the page.
create index vault_logs_author_id_vault_id_sequence_idx on public.vault_logs (author_id, vault_id, sequence);

alter table public.vault_logs enable row level security;

revoke all on table public.vault_logs from anon, authenticated;
grant select on table public.vault_logs to authenticated;

create policy "Owners can read their vault logs"
  on public.vault_logs for select to authenticated
  using (author_id = (select auth.uid()));
