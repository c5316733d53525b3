-- public.vault_members: who may use a vault, with which role (issue 18, docs/sharing.md).
--
--   owner   the creator, exactly one per vault (a partial unique index); deletes the vault
--   admin   invites, removes and changes the roles of writers and readers
--   writer  pushes and compacts
--   reader  pulls only
--
-- Every vault gets its owner row: a trigger on public.vaults adds it for new vaults (create_vault
-- stays as it is), and this migration backfills the existing ones from vaults.owner_id.
--
-- Locking: the trigger needs SHARE ROW EXCLUSIVE on vaults and the backfill reads every vault, so
-- both run under one explicit lock taken FIRST, before anything else touches vaults: a push holds
-- its vault row and nothing of vault_members, so it either finishes before the lock or waits for
-- the commit; no lock is ever taken in the opposite order (the earlier attempt that locked
-- vault_members' rows first deadlocked against pushes). The insert-select is one statement over
-- vaults' primary key; pushes wait for it, bounded by lock_timeout for the lock itself.

set lock_timeout = '1s';

create table public.vault_members (
  vault_id uuid not null references public.vaults (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  role text not null check (role in ('owner', 'admin', 'writer', 'reader')),
  added_by uuid null references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  primary key (vault_id, user_id)
);
comment on table public.vault_members is
  'Members of a vault and their role (owner, admin, writer, reader). Members read the rows of their vaults; writes go through the sharing functions.';

-- Exactly one owner per vault.
create unique index vault_members_one_owner_idx on public.vault_members (vault_id) where role = 'owner';
-- The access helpers look members up by user (private.member_vault_ids); cascades from auth.users.
create index vault_members_user_id_vault_id_idx on public.vault_members (user_id, vault_id);
create index vault_members_added_by_idx on public.vault_members (added_by);

alter table public.vault_members enable row level security;
revoke all on table public.vault_members from anon, authenticated;
grant select on table public.vault_members to authenticated;

create function private.add_vault_owner_member() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  insert into public.vault_members (vault_id, user_id, role) values (new.id, new.owner_id, 'owner');
  return null;
end
$$;
comment on function private.add_vault_owner_member() is
  'Trigger: a new vault''s owner becomes its owner member. Runs as the inserting role (create_vault''s owner); no API role inserts vaults.';
revoke execute on function private.add_vault_owner_member() from public, anon, authenticated;

-- One DO block (LOCK TABLE needs a transaction block): the lock first, then the trigger (new vaults)
-- and the backfill (existing ones), with no vault created in between.
do $$
begin
  lock table public.vaults in share row exclusive mode;
  create trigger add_vault_owner_member
    after insert on public.vaults
    for each row execute function private.add_vault_owner_member();
  insert into public.vault_members (vault_id, user_id, role, created_at)
  select v.id, v.owner_id, 'owner', v.created_at from public.vaults v
  on conflict do nothing;
end
$$;

reset lock_timeout;
