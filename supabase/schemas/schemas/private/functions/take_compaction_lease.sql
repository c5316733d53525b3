create or replace function private.take_compaction_lease (
  vault_id uuid
)
  returns boolean
  language sql
  set search_path to ''
  AS $function$
  insert into private.compaction_leases as l (vault_id, expires_at)
  values (take_compaction_lease.vault_id, now() + interval '2 minutes')
  on conflict on constraint compaction_leases_pkey do update set expires_at = excluded.expires_at
    where l.expires_at <= now()
  returning true
$function$;

comment on function "private"."take_compaction_lease"(uuid) is 'push_logs: takes the vault''s compaction lease if it is free or expired (true), else null: only the taker is told compaction_due.';

revoke all on function "private"."take_compaction_lease"(uuid) from public;

grant execute on function "private"."take_compaction_lease"(uuid) to "postgres";
