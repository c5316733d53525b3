-- private.compaction_leases: who is told that compaction is due (issue 16 item 2).
--
-- Before, every push past the compaction_due threshold answered compaction_due: true, so every
-- device of a busy vault set off to compact at once and queued on the compaction lock. Now push_logs
-- says it to one pusher at a time: the first due push takes a short lease (2 minutes) and only it
-- gets compaction_due: true; until the lease expires, other pushes do not. compact_logs extends the
-- lease while it makes progress and drops it when a pass is complete, so the next due push (after
-- enough new keyed logs) hands it out again. A device that got the lease and went away delays
-- compaction by at most the lease. compact_logs itself stays callable by any owner at any time (a
-- scheduled job, an app's button): the lease shapes only the hint.

set lock_timeout = '1s';

create table private.compaction_leases (
  vault_id uuid primary key references public.vaults (id) on delete cascade,
  expires_at timestamptz not null
);
comment on table private.compaction_leases is
  'Per vault: until when the push that was last told compaction_due: true has the job (push_logs tells nobody else meanwhile).';
-- The foreign key is checked only by push_logs' insert, which holds the vault row already;
-- compact_logs only updates expires_at or deletes (no key check).
alter table private.compaction_leases enable row level security;
revoke all on table private.compaction_leases from public, anon, authenticated;

-- Called by push_logs (SECURITY DEFINER, as its owner) only when private.compaction_due is true,
-- i.e. rarely; concurrent pushes of one vault are serialised by the vault's push lock anyway.
create function private.take_compaction_lease(vault_id uuid)
returns boolean
language sql volatile
set search_path = ''
as $$
  insert into private.compaction_leases as l (vault_id, expires_at)
  values (take_compaction_lease.vault_id, now() + interval '2 minutes')
  on conflict on constraint compaction_leases_pkey do update set expires_at = excluded.expires_at
    where l.expires_at <= now()
  returning true
$$;
comment on function private.take_compaction_lease(uuid) is
  'push_logs: takes the vault''s compaction lease if it is free or expired (true), else null: only the taker is told compaction_due.';
revoke execute on function private.take_compaction_lease(uuid) from public, anon, authenticated;

reset lock_timeout;
