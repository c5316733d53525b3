create table "private"."compacted_log_ids" (
  "vault_id" uuid   not null,
  "id"       uuid   not null,
  "sequence" bigint not null,
  constraint "compacted_log_ids_pkey" primary key (vault_id, id)
);

alter table "private"."compacted_log_ids"
  enable row level security;

comment on table "private"."compacted_log_ids" is 'Ids (and first sequences) of logs removed by compact_logs: push_logs answers a re-push of one as a duplicate.';

grant delete, insert, maintain, references, select, trigger, truncate, update on table "private"."compacted_log_ids" to "postgres";
