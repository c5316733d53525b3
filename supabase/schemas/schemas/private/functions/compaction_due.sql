create or replace function private.compaction_due (
  last_sequence  bigint,
  compacted_logs bigint,
  keyed_since    bigint
)
  returns boolean
  language sql
  immutable
  parallel safe
  set search_path to ''
  AS $function$
  select keyed_since >= 1000 and keyed_since * 2 >= last_sequence - compacted_logs
$function$;

comment on function "private"."compaction_due"(bigint, bigint, bigint) is 'Heuristic of push_logs: is compaction of a vault due (>= 1000 keyed logs since the last compaction, and >= half of the live logs)?';

revoke all on function "private"."compaction_due"(bigint, bigint, bigint) from public;

grant execute on function "private"."compaction_due"(bigint, bigint, bigint) to "postgres";
