-- Validates the foreign key added NOT VALID by 20261203201700_keep_logs_of_deleted_authors.sql: a scan
-- of sync_logs under SHARE UPDATE EXCLUSIVE, which lets pushes and pulls go on.

set lock_timeout = '1s';

alter table public.sync_logs validate constraint sync_logs_author_id_fkey;

reset lock_timeout;
