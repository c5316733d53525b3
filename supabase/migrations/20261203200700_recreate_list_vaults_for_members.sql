-- list_vaults for shared vaults (issue 18): every vault the caller is a member of, with the caller's
-- role, the vault's key generation and whether a rotation is due (a member was removed or left).
-- Otherwise as in 20261129400500_recreate_list_vaults_with_compaction_counters.sql. The result type
-- changes, so the function is dropped and created (in the migration's transaction).

set lock_timeout = '1s';

drop function public.list_vaults();

-- SECURITY INVOKER: RLS ("Members can read their vaults") already limits the rows; the explicit
-- filter through the same helper keeps the plan an index lookup per member vault.
create function public.list_vaults()
returns table (vault_id uuid, created_at timestamptz, updated_at timestamptz, last_sequence bigint, log_count bigint,
               bytes bigint, compacted_logs bigint, compacted_through bigint, role text, key_generation bigint,
               key_rotation_due boolean)
language sql stable
set search_path = ''
as $$
  select v.id, v.created_at, v.updated_at, v.last_sequence, v.last_sequence - v.compacted_logs, v.bytes,
         v.compacted_logs, v.compacted_through, private.vault_role(v.id), v.key_generation, v.key_rotation_due
  from public.vaults v
  where v.id in (select private.member_vault_ids())
  order by v.created_at, v.id
$$;
comment on function public.list_vaults() is
  'API: the vaults the caller is a member of, with log_count (live logs), bytes, compacted_logs, compacted_through, the caller''s role, key_generation and key_rotation_due. SECURITY INVOKER; RLS applies.';
revoke execute on function public.list_vaults() from public, anon;
grant execute on function public.list_vaults() to authenticated;

reset lock_timeout;
