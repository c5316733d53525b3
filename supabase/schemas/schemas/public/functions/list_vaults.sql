create or replace function public.list_vaults()
  returns table (
    vault_id          uuid,
    created_at        timestamp with time zone,
    updated_at        timestamp with time zone,
    last_sequence     bigint,
    log_count         bigint,
    bytes             bigint,
    compacted_logs    bigint,
    compacted_through bigint,
    role              text,
    key_generation    bigint,
    key_rotation_due  boolean
  )
  language sql
  stable
  set search_path to ''
  AS $function$
  select v.id, v.created_at, v.updated_at, v.last_sequence, v.last_sequence - v.compacted_logs, v.bytes,
         v.compacted_logs, v.compacted_through, private.vault_role(v.id), v.key_generation, v.key_rotation_due
  from public.vaults v
  where v.id in (select private.member_vault_ids())
  order by v.created_at, v.id
$function$;

comment on function "public"."list_vaults"() is 'API: the vaults the caller is a member of, with log_count (live logs), bytes, compacted_logs, compacted_through, the caller''s role, key_generation and key_rotation_due. SECURITY INVOKER; RLS applies.';

revoke all on function "public"."list_vaults"() from public;

grant execute on function "public"."list_vaults"() to "authenticated", "postgres", "service_role";
