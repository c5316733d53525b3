create table "public"."sync_logs" (
  "vault_id"       uuid                     not null,
  "sequence"       bigint                   not null,
  "id"             uuid                     not null,
  "author_id"      uuid,
  "device_id"      text,
  "encrypted_data" text                     not null,
  "nonce"          text                     not null,
  "haex_timestamp" text                     not null,
  "created_at"     timestamp with time zone not null default now(),
  "record_key"     text,
  "key_generation" bigint                   not null default 1,
  "wire"           text,
  constraint "sync_logs_author_id_fkey" foreign key (author_id) references auth.users(id) on delete set null,
  constraint "sync_logs_pkey" primary key (vault_id, sequence),
  constraint "sync_logs_sequence_check" check ((sequence >= 1)),
  constraint "sync_logs_vault_id_id_key" unique (vault_id, id),
  constraint "sync_logs_vault_id_fkey" foreign key (vault_id) references public.vaults(id) on delete cascade,
  constraint "sync_logs_record_key_check" check (((record_key ~ '^[A-Za-z0-9_-]+$'::text) AND (length(record_key) <= (private.limits()).max_record_key_chars)))
);

alter table "public"."sync_logs"
  enable row level security;

create index sync_logs_author_id_vault_id_sequence_idx on public.sync_logs using btree (author_id, vault_id, sequence);

create index sync_logs_vault_id_record_key_idx on public.sync_logs using btree (vault_id, record_key, haex_timestamp collate "C", sequence)
  where (record_key is not null);

create trigger keep_log_wire_on_insert
  before insert on public.sync_logs
  for each row
  when ((new.wire is null))
  execute function private.keep_log_wire();

create trigger keep_log_wire_on_update
  before update on public.sync_logs
  for each row
  when ((new.wire is not distinct from old.wire))
  execute function private.keep_log_wire();

create policy "Members can read their vaults logs" on "public"."sync_logs"
  for select
  to "authenticated"
  using ((vault_id in ( select private.member_vault_ids() as member_vault_ids)));

comment on column "public"."sync_logs"."author_id" is 'The member who pushed the log; NULL once that user''s account is deleted.';

comment on column "public"."sync_logs"."id" is 'Chosen by the client (idempotency key), unique per vault.';

comment on column "public"."sync_logs"."key_generation" is 'Generation of the key the log is encrypted under (bound in its AAD).';

comment on column "public"."sync_logs"."record_key" is 'Opaque base64url key (1..64 chars) of what the log overwrites, or NULL (never compacted). Logs of one key: only the newest by (haex_timestamp bytewise, sequence) matters.';

comment on column "public"."sync_logs"."sequence" is 'Per vault: 1, 2, 3, ... gap-free, in commit order.';

comment on column "public"."sync_logs"."wire" is 'The log as a pull page sends it (private.log_wire: this row''s other columns as compact JSON), written once at push so that public.pull_page only concatenates (issue 25). Kept equal to the row by the keep_log_wire triggers; null only for logs stored before it until private.backfill_log_wire has run.';

comment on table "public"."sync_logs" is 'Encrypted change logs. Owners read them (pull_logs or a direct select); writes go through push_logs only.';

revoke all on table "public"."sync_logs" from "authenticated";

grant select on table "public"."sync_logs" to "authenticated";

grant delete, insert, maintain, references, select, trigger, truncate, update on table "public"."sync_logs" to "postgres", "service_role";
