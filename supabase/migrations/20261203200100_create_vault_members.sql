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
-- Locking: EXCLUSIVE on vaults, taken FIRST (before the foreign keys below lock vaults in SHARE ROW
-- EXCLUSIVE). Why that mode: a push takes its vault row FOR UPDATE (ROW SHARE), then updates the row
-- (ROW EXCLUSIVE). With only SHARE ROW EXCLUSIVE held here, a push could take its row lock, then wait
-- for this migration at its update, while the backfill's foreign-key check (FOR KEY SHARE on that
-- row) waited for the push: a deadlock (seen in tests/sharing-migrations-under-load.test.ts, and by
-- the earlier attempt). EXCLUSIVE conflicts with ROW SHARE, so once it is granted (after the pushes
-- in flight commit) no push holds or takes a vault row lock until this migration commits; reads
-- (pulls, list_vaults) go on. The CLI runs the file as one transaction, so the lock lasts to its end.
-- Pushes wait for the backfill: one insert-select over vaults' primary key.

set lock_timeout = '1s';

-- LOCK TABLE needs a transaction block: a DO block runs it inside the file's transaction.
do $$
begin
  lock table public.vaults in exclusive mode;
end
$$;

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

-- Under the lock taken above: no vault is created between the trigger (new vaults) and the backfill
-- (existing ones).
create trigger add_vault_owner_member
  after insert on public.vaults
  for each row execute function private.add_vault_owner_member();

insert into public.vault_members (vault_id, user_id, role, created_at)
select v.id, v.owner_id, 'owner', v.created_at from public.vaults v
on conflict do nothing;

reset lock_timeout;
