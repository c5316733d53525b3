-- Adds public.sync_logs to Supabase Realtime's publication, so supabase-js `postgres_changes`
-- subscriptions (event INSERT, filter vault_id=eq.<id>) deliver new logs to a vault's devices.
--
-- Realtime checks each change against each subscriber's RLS ("Owners can read their sync logs"), so
-- a device receives only its own vaults' rows, as ciphertext (the server has nothing else). That
-- check runs once per subscriber per change, on one thread: it is the simple path, not the scalable
-- one (docs/realtime.md). The publication exists on hosted Supabase and `supabase start`; the
-- embedded stack's bootstrap creates it the same way.

alter publication supabase_realtime add table public.sync_logs;
