create table "private"."vault_quotas" (
  "vault_id"    uuid   not null,
  "quota_bytes" bigint not null,
  constraint "vault_quotas_pkey" primary key (vault_id),
  constraint "vault_quotas_quota_bytes_check" check ((quota_bytes > 0)),
  constraint "vault_quotas_vault_id_fkey" foreign key (vault_id) references public.vaults(id) on delete cascade
);

alter table "private"."vault_quotas"
  enable row level security;

comment on table "private"."vault_quotas" is 'Per-vault byte quotas set by the service role; they win over the default.';

grant delete, insert, maintain, references, select, trigger, truncate, update on table "private"."vault_quotas" to "postgres";

grant delete, insert, select, update on table "private"."vault_quotas" to "service_role";
