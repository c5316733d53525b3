-- public.devices: the device registry (issue 19). A device is one Supabase Auth session that uses
-- haex-sync: its row is made on the session's first registration (register_device) or first push
-- (push_logs), keyed by the session's id (the JWT's session_id claim, auth.sessions.id).
--
-- Why no foreign key to auth.sessions: a session ends (sign-out, revoke_device, refresh-token reuse)
-- by GoTrue deleting its row; the device row stays, so that the list shows a revoked device with its
-- revoked_at. Revoked rows are pruned after 30 days (register_device). user_id cascades with the user.
--
-- Clients read their own rows (supabase.from('devices').select() or list_devices); every write goes
-- through register_device, revoke_device and push_logs (docs/devices.md).

set lock_timeout = '1s'; -- a new table and its policy: the references lock auth.users only briefly

create table public.devices (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  -- auth.sessions.id of the session this device is. One device per session.
  session_id uuid not null,
  -- Chosen by the app (e.g. "Alice's laptop"); the server stores and shows it, never interprets it.
  name text null check (char_length(name) between 1 and 128),
  created_at timestamptz not null default now(),
  -- Updated at most once a minute, by pushes and registrations, never waiting for a lock.
  last_seen_at timestamptz not null default now(),
  -- Set by revoke_device (which also deletes the Auth session); a revoked device never comes back.
  revoked_at timestamptz null
);

comment on table public.devices is
  'haex-sync devices: one row per Auth session that used haex-sync. Users read their rows; writes go through register_device, revoke_device and push_logs.';
comment on column public.devices.session_id is 'auth.sessions.id (the JWT session_id claim) of the device''s session.';
comment on column public.devices.name is 'Chosen by the app; stored and shown, never interpreted. The server sees it.';
comment on column public.devices.last_seen_at is 'Last push or registration, at a resolution of one minute.';
comment on column public.devices.revoked_at is 'When revoke_device ended the session; null while the device may sync.';

-- private.caller_id() probes it by session_id on every statement: the unique index is that probe.
create unique index devices_session_id_idx on public.devices (session_id);
-- The RLS policy reads user_id; auth.users deletions cascade through it.
create index devices_user_id_idx on public.devices (user_id);

alter table public.devices enable row level security;

revoke all on table public.devices from anon, authenticated;
grant select on table public.devices to authenticated;

create policy "Users can read their own devices"
  on public.devices for select to authenticated
  using (user_id = (select private.caller_id()));

reset lock_timeout;
