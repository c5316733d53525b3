-- Key generations (issue 18 item 4). A vault's key has a generation, 1 at creation; rotate_vault_key
-- raises it by one. Every log records the generation it was encrypted under (bound in its AAD by the
-- client; push_logs refuses any other than the vault's current one). The owner's password-wrapped
-- copy (vault_keys) says which generation it holds, since a rotation by an admin cannot re-wrap it.
-- key_rotation_due: a member was removed or left since the last rotation; an admin's or the owner's
-- device rotates when it sees it (remove_member's caller does at once).
--
-- Constant defaults: no table rewrite on PostgreSQL 11+; ACCESS EXCLUSIVE only for the catalog change.

set lock_timeout = '1s';

alter table public.vaults add column key_generation bigint not null default 1;
alter table public.vaults add column key_rotation_due boolean not null default false;
alter table public.sync_logs add column key_generation bigint not null default 1;
alter table public.vault_keys add column key_generation bigint not null default 1;

comment on column public.vaults.key_generation is 'Generation of the current vault key: 1, then +1 per rotate_vault_key.';
comment on column public.vaults.key_rotation_due is 'A member was removed or left since the last rotation.';
comment on column public.sync_logs.key_generation is 'Generation of the key the log is encrypted under (bound in its AAD).';
comment on column public.vault_keys.key_generation is 'Generation of the vault key this password-wrapped copy holds.';

reset lock_timeout;
