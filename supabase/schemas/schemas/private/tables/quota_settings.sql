create table "private"."quota_settings" (
  "singleton"                 boolean not null default true,
  "default_vault_quota_bytes" bigint,
  constraint "quota_settings_default_vault_quota_bytes_check" check ((default_vault_quota_bytes > 0)),
  constraint "quota_settings_pkey" primary key (singleton),
  constraint "quota_settings_singleton_check" check (singleton)
);

alter table "private"."quota_settings"
  enable row level security;

comment on table "private"."quota_settings" is 'One row: the default per-vault byte quota (null: none).';

grant delete, insert, maintain, references, select, trigger, truncate, update on table "private"."quota_settings" to "postgres";

grant insert, select, update on table "private"."quota_settings" to "service_role";
