-- A shared vault keeps the logs of a member whose account is deleted (issue 18).
--
-- sync_logs.author_id referenced auth.users ON DELETE CASCADE: right while only the owner could push
-- (deleting the owner deletes the vault anyway), wrong once writers push: deleting a writer's account
-- would delete their logs from every shared vault and leave holes in its gap-free sequence (pulls
-- would stop with SequenceGapError). Now the author becomes NULL instead ("a deleted user").
--
-- Without a long lock: dropping NOT NULL and swapping the constraint are catalog changes (ACCESS
-- EXCLUSIVE for an instant, bounded by lock_timeout); the new foreign key is added NOT VALID (no scan
-- here) and validated by the next migration, which scans under SHARE UPDATE EXCLUSIVE (pushes and
-- pulls go on).

set lock_timeout = '1s';

-- Intended: a NULL author is the point of this migration. No reader depends on it being set (the
-- client library never reads author_id; pull_logs passes the row through).
-- squawk-ignore ban-drop-not-null
alter table public.sync_logs alter column author_id drop not null;
alter table public.sync_logs drop constraint sync_logs_author_id_fkey;
alter table public.sync_logs add constraint sync_logs_author_id_fkey
  foreign key (author_id) references auth.users (id) on delete set null not valid;
comment on column public.sync_logs.author_id is 'The member who pushed the log; NULL once that user''s account is deleted.';

reset lock_timeout;
