-- list_vaults reports the live log count and the compaction counters.
--
-- log_count is now the number of logs the vault holds: last_sequence - compacted_logs (sequences
-- are assigned gap-free; compaction removes logs and counts them). compacted_logs is what
-- compaction removed in total, compacted_through how far it has run (pulls treat missing sequences
-- at or below it as compacted). All are counters on the vault row: still one index lookup per
-- vault, no scan of the logs. The result type changes, so the function is dropped and created.
-- (Otherwise as in 20261127000500_create_vault_functions.sql.)

drop function public.list_vaults();

-- SECURITY INVOKER: authenticated may read vaults, and RLS limits it to the caller's rows as well.
create function public.list_vaults()
returns table (vault_id uuid, created_at timestamptz, updated_at timestamptz, last_sequence bigint, log_count bigint,
               bytes bigint, compacted_logs bigint, compacted_through bigint)
language sql stable
set search_path = ''
as $$
  select v.id, v.created_at, v.updated_at, v.last_sequence, v.last_sequence - v.compacted_logs, v.bytes,
         v.compacted_logs, v.compacted_through
  from public.vaults v
  where v.owner_id = (select auth.uid())
  order by v.created_at, v.id
$$;
comment on function public.list_vaults() is
  'API: the caller''s vaults with log_count (live logs: last_sequence - compacted_logs), bytes (sum of octet_length of encrypted_data, nonce and haex_timestamp of the live logs), compacted_logs and compacted_through. SECURITY INVOKER; RLS applies.';
revoke execute on function public.list_vaults() from public, anon;
grant execute on function public.list_vaults() to authenticated;
