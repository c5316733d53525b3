create table "public"."devices" (
  "id"           uuid                     not null default gen_random_uuid(),
  "user_id"      uuid                     not null,
  "session_id"   uuid                     not null,
  "name"         text,
  "created_at"   timestamp with time zone not null default now(),
  "last_seen_at" timestamp with time zone not null default now(),
  "revoked_at"   timestamp with time zone,
  constraint "devices_name_check" check (((char_length(name) >= 1) AND (char_length(name) <= 128))),
  constraint "devices_pkey" primary key (id),
  constraint "devices_user_id_fkey" foreign key (user_id) references auth.users(id) on delete cascade
);

alter table "public"."devices"
  enable row level security;

create unique index devices_session_id_idx on public.devices using btree (session_id);

create index devices_user_id_idx on public.devices using btree (user_id);

create trigger forget_checked_session_on_insert
  after insert on public.devices
  for each row
  when ((new.revoked_at is not null))
  execute function private.forget_checked_session();

create trigger forget_checked_session_on_revoke
  after update of revoked_at on public.devices
  for each statement
  execute function private.forget_checked_session();

create policy "Users can read their own devices" on "public"."devices"
  for select
  to "authenticated"
  using ((user_id = ( select private.caller_id() as caller_id)));

comment on column "public"."devices"."last_seen_at" is 'Last push or registration, at a resolution of one minute.';

comment on column "public"."devices"."name" is 'Chosen by the app; stored and shown, never interpreted. The server sees it.';

comment on column "public"."devices"."revoked_at" is 'When revoke_device ended the session; null while the device may sync.';

comment on column "public"."devices"."session_id" is 'auth.sessions.id (the JWT session_id claim) of the device''s session.';

comment on table "public"."devices" is 'haex-sync devices: one row per Auth session that used haex-sync. Users read their rows; writes go through register_device, revoke_device and push_logs.';

revoke all on table "public"."devices" from "authenticated";

grant select on table "public"."devices" to "authenticated";

grant delete, insert, maintain, references, select, trigger, truncate, update on table "public"."devices" to "postgres", "service_role";
