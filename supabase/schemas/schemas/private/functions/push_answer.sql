create or replace function private.push_answer (
  last_sequence bigint,
  results       jsonb,
  due           boolean
)
  returns jsonb
  language sql
  immutable
  parallel safe
  set search_path to ''
  AS $function$
  select case when due then jsonb_build_object('last_sequence', last_sequence, 'results', results, 'compaction_due', true)
              else jsonb_build_object('last_sequence', last_sequence, 'results', results) end
$function$;

comment on function "private"."push_answer"(bigint, jsonb, boolean) is 'The answer of push_logs: { last_sequence, results } plus compaction_due: true when compaction is due.';

revoke all on function "private"."push_answer"(bigint, jsonb, boolean) from public;

grant execute on function "private"."push_answer"(bigint, jsonb, boolean) to "postgres";
