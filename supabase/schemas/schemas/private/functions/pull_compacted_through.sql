create or replace function private.pull_compacted_through (
  vault_id uuid
)
  returns bigint
  language plpgsql
  stable
  set search_path to ''
  AS $function$
begin
  -- As the caller: RLS hides other users' vaults (pull_vault_state has raised PT404 for those).
  return (select v.compacted_through from public.vaults v where v.id = pull_compacted_through.vault_id);
end
$function$;

comment on function "private"."pull_compacted_through"(uuid) is 'The compacted_through of the caller''s vault, for public.pull_logs (SECURITY INVOKER, so executable by authenticated); null for a vault the caller cannot see.';

revoke all on function "private"."pull_compacted_through"(uuid) from public;

grant execute on function "private"."pull_compacted_through"(uuid) to "authenticated", "postgres";
