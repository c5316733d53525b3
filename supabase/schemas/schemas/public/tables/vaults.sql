create table "public"."vaults" (
  "id"                          uuid                     not null,
  "owner_id"                    uuid                     not null,
  "last_sequence"               bigint                   not null default 0,
  "bytes"                       bigint                   not null default 0,
  "created_at"                  timestamp with time zone not null default now(),
  "updated_at"                  timestamp with time zone not null default now(),
  "compacted_through"           bigint                   not null default 0,
  "compacted_logs"              bigint                   not null default 0,
  "keyed_logs_since_compaction" bigint                   not null default 0,
  "key_generation"              bigint                   not null default 1,
  "key_rotation_due"            boolean                  not null default false,
  constraint "vaults_bytes_check" check ((bytes >= 0)),
  constraint "vaults_compacted_logs_check" check ((compacted_logs >= 0)),
  constraint "vaults_compacted_through_check" check ((compacted_through >= 0)),
  constraint "vaults_keyed_logs_since_compaction_check" check ((keyed_logs_since_compaction >= 0)),
  constraint "vaults_last_sequence_check" check ((last_sequence >= 0)),
  constraint "vaults_owner_id_fkey" foreign key (owner_id) references auth.users(id) on delete cascade,
  constraint "vaults_pkey" primary key (id)
);

alter table "public"."vaults"
  enable row level security;

create index vaults_owner_id_idx on public.vaults using btree (owner_id);

create trigger add_vault_owner_member
  after insert on public.vaults
  for each row
  execute function private.add_vault_owner_member();

create trigger forget_compacted_log_ids
  after delete on public.vaults
  for each row
  execute function private.forget_compacted_log_ids();

create trigger keep_vault_tombstone
  after delete on public.vaults
  for each row
  execute function private.keep_vault_tombstone();

create trigger refuse_pushes_past_quota
  before update of bytes on public.vaults
  for each row
  when ((new.bytes > old.bytes))
  execute function private.refuse_pushes_past_quota();

create trigger send_vault_poke
  after update of last_sequence on public.vaults
  for each row
  when ((new.last_sequence > old.last_sequence))
  execute function private.send_vault_poke();

create policy "Members can read their vaults" on "public"."vaults"
  for select
  to "authenticated"
  using ((id in ( select private.member_vault_ids() as member_vault_ids)));

comment on column "public"."vaults"."bytes" is 'Sum of octet_length(encrypted_data) + octet_length(nonce) + octet_length(haex_timestamp) of the vault''s logs.';

comment on column "public"."vaults"."compacted_logs" is 'Logs removed by compaction in total; live logs = last_sequence - compacted_logs.';

comment on column "public"."vaults"."compacted_through" is 'compact_logs removed logs only at or below this sequence; a gap in a pull at or below it is compacted, above it a lost log.';

comment on column "public"."vaults"."id" is 'Chosen by the client.';

comment on column "public"."vaults"."key_generation" is 'Generation of the current vault key: 1, then +1 per rotate_vault_key.';

comment on column "public"."vaults"."key_rotation_due" is 'A member was removed or left since the last rotation.';

comment on column "public"."vaults"."keyed_logs_since_compaction" is 'Logs with a record_key pushed since the last compaction (decides when compaction is due).';

comment on column "public"."vaults"."last_sequence" is 'Sequence of the newest log (0: none). Gap-free, so also the number of logs.';

comment on column "public"."vaults"."updated_at" is 'Last push that stored a log (or creation).';

comment on table "public"."vaults" is 'haex-sync vaults. Owners read their rows; all writes go through create_vault, push_logs and delete_vault.';

revoke all on table "public"."vaults" from "authenticated";

grant select on table "public"."vaults" to "authenticated";

grant delete, insert, maintain, references, select, trigger, truncate, update on table "public"."vaults" to "postgres", "service_role";
