-- Who may use the Realtime topics `vault:<uuid>` (docs/realtime.md).
--
-- Realtime authorizes a private channel by RLS on realtime.messages: at join it sets the user's
-- role, `request.jwt.claims` and `realtime.topic`, inserts a probe row per extension and SELECTs it
-- back (rolled back); to send it INSERTs a probe under the same settings. So:
--   * receiving (SELECT): an authenticated user, on broadcast, for the vault:<id> topic of a vault
--     they own. The lookup goes through vaults_owner_id_idx (owner_id) and the primary key.
--   * sending (INSERT): nobody, on any vault: topic. Pokes come only from the database
--     (private.send_vault_poke, running as the table owner through realtime.send). With RLS on and no
--     INSERT policy, API roles may already not insert; the restrictive policy keeps it so even if a
--     permissive INSERT policy is added for other topics later. It names anon too: a deny rule that
--     skipped anon would leave the public-key role as the way around it.
-- The columns of realtime.messages these policies read are only ever evaluated on the probe row
-- Realtime fetched by primary key or is inserting, never by a scan; Supabase owns that table's
-- indexes.

create policy "Owners can receive their vault broadcasts"
  on realtime.messages for select to authenticated
  using (
    realtime.messages.extension = 'broadcast'
    and exists (
      select 1 from public.vaults v
      where v.owner_id = (select auth.uid())
        and 'vault:' || v.id::text = (select realtime.topic())
    )
  );

create policy "Nobody can send on vault topics"
  on realtime.messages as restrictive for insert to anon, authenticated
  with check (
    (select realtime.topic()) not like 'vault:%'
    and realtime.messages.topic not like 'vault:%'
  );
