-- Policies of shared vaults: the owner-only read policies become member policies, all through the
-- access helpers (20261203200200). Names are sentences; `drop policy if exists` because the devices
-- branch (issue 19) alters the same policies in place, keeping their names.
--
--   vaults          a member (any role) reads the vault row
--   sync_logs       a member (any role) reads the vault's logs; author_id no longer says who may read
--                   (a writer's logs belong to the vault). `vault_id in (select ...)` is evaluated
--                   once per statement; the primary key (vault_id, sequence) serves it.
--   vault_members   a member reads the member list of the vault
--   realtime        a member receives broadcasts of vault:<id>; checked when the channel is joined

set lock_timeout = '1s';

drop policy if exists "Owners can read their vaults" on public.vaults;
create policy "Members can read their vaults"
  on public.vaults for select to authenticated
  using (id in (select private.member_vault_ids()));

drop policy if exists "Owners can read their sync logs" on public.sync_logs;
create policy "Members can read their vaults logs"
  on public.sync_logs for select to authenticated
  using (vault_id in (select private.member_vault_ids()));

create policy "Members can read the members of their vaults"
  on public.vault_members for select to authenticated
  using (vault_id in (select private.member_vault_ids()));

drop policy if exists "Owners can receive their vault broadcasts" on realtime.messages;
create policy "Members can receive their vault broadcasts"
  on realtime.messages for select to authenticated
  using (
    realtime.messages.extension = 'broadcast'
    and (select private.can_receive_vault_topic(realtime.topic()))
  );

reset lock_timeout;
