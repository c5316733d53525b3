create or replace function public.compact_logs (
  vault_id uuid
)
  returns jsonb
  language sql
  security definer
  set search_path to ''
  AS $function$
  select private.compact_logs(compact_logs.vault_id)
$function$;

comment on function "public"."compact_logs"(uuid) is 'API: one step (about 2 s at most) of removing superseded logs (same record_key AND author, older by haex_timestamp bytewise then sequence) of a vault the caller may write (owner, admin, writer), never an author''s newest of a key nor logs without a record key; resumes where the last call stopped; answers { status: complete | more | nothing_to_do | busy, removed, remaining, complete, compacted_through }. SECURITY DEFINER because sync_logs and vaults have no write grants; access through private.require_vault_role.';

revoke all on function "public"."compact_logs"(uuid) from public;

grant execute on function "public"."compact_logs"(uuid) to "authenticated", "postgres", "service_role";
