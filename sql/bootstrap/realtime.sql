-- Supabase Realtime's `realtime` schema for a plain PostgreSQL server (the embedded stack).
--
-- Hosted Supabase and `supabase start` get this schema from the Realtime service itself, which runs
-- its migrations (supabase/realtime, lib/realtime/tenants/repo/migrations) against the project
-- database. The embedded stack has no Realtime service, so this file reproduces the current result
-- of those migrations for what Broadcast needs: the role supabase_realtime_admin, the partitioned
-- table realtime.messages (RLS enabled, no policies: projects add theirs), realtime.topic(),
-- realtime.send(), realtime.send_binary() and realtime.broadcast_changes(), with Supabase's columns,
-- signatures, grants and semantics. Our migrations (policies on realtime.messages, triggers calling
-- realtime.send) therefore run unchanged on hosted Supabase.
--
-- Partitions of realtime.messages (one per UTC day) are created by the Realtime server, as Supabase's
-- does on connect and daily (stack/realtime/database.ts); a send with no partition for today fails
-- inside realtime.send, which, as on Supabase, only raises a WARNING.
--
-- One object here is NOT Supabase's: the embedded-only trigger at the end, which hands every
-- committed broadcast to the embedded Realtime server by NOTIFY (Supabase's Realtime reads the same
-- rows by logical replication instead; see docs/realtime.md for why the embedded stack does not).
--
-- Idempotent: safe to run on every start. Run as a superuser.

do $bootstrap$
begin
  if not exists (select 1 from pg_roles where rolname = 'supabase_realtime_admin') then
    create role supabase_realtime_admin nologin noinherit noreplication;
  end if;
end
$bootstrap$;

grant supabase_realtime_admin to postgres;

create schema if not exists realtime authorization supabase_admin;
grant usage on schema realtime to postgres, anon, authenticated, service_role;
grant all privileges on schema realtime to supabase_realtime_admin;

-- realtime.messages as of migrations 20241030150047 (partitioning), 20241108114728 (uuid ids),
-- 20250905041441 (replay index) and 20260514120000 (binary_payload).
do $bootstrap$
begin
  if to_regclass('realtime.messages') is null then
    create table realtime.messages (
      topic text not null,
      extension text not null,
      payload jsonb,
      event text,
      private boolean default false,
      updated_at timestamp not null default now(),
      inserted_at timestamp not null default now(),
      id uuid not null default gen_random_uuid(),
      binary_payload bytea,
      constraint messages_pkey primary key (id, inserted_at),
      constraint messages_payload_exclusive check (payload is null or binary_payload is null)
    ) partition by range (inserted_at);
    create index messages_inserted_at_topic_index on realtime.messages (inserted_at desc, topic)
      where extension = 'broadcast' and private is true;
  end if;
end
$bootstrap$;

alter table realtime.messages enable row level security;
alter table realtime.messages owner to supabase_realtime_admin;
grant select, insert, update on realtime.messages to postgres, anon, authenticated, service_role;
grant all privileges on realtime.messages to supabase_realtime_admin;

create or replace function realtime.topic() returns text as $$
select nullif(current_setting('realtime.topic', true), '')::text;
$$ language sql stable;

-- As of migration 20260605120000: never fails its caller; a failed insert is a WARNING (WarnSendingBroadcastMessage).
create or replace function realtime.send(payload jsonb, event text, topic text, private boolean default true) returns void
as $$
declare
  generated_id uuid;
  final_payload jsonb;
begin
  begin
    -- Generate a new UUID for the id
    generated_id := gen_random_uuid();

    -- Check if payload has an 'id' key, if not, add the generated UUID
    if payload ? 'id' then
      final_payload := payload;
    else
      final_payload := jsonb_set(payload, '{id}', to_jsonb(generated_id));
    end if;

    -- Set the topic configuration
    execute format('SET LOCAL realtime.topic TO %L', topic);

    -- Attempt to insert the message
    insert into realtime.messages (id, payload, event, topic, private, extension)
    values (generated_id, final_payload, event, topic, private, 'broadcast');
  exception
    when others then
      -- Capture and notify the error
      raise warning 'WarnSendingBroadcastMessage: %', SQLERRM;
  end;
end;
$$ language plpgsql;

-- As of migrations 20260603120000 and 20260605120000.
create or replace function realtime.send_binary(payload bytea, event text, topic text, private boolean default true) returns void
as $$
declare
  generated_id uuid;
begin
  begin
    generated_id := gen_random_uuid();

    execute format('SET LOCAL realtime.topic TO %L', topic);

    insert into realtime.messages (id, binary_payload, event, topic, private, extension)
    values (generated_id, payload, event, topic, private, 'broadcast');
  exception
    when others then
      raise warning 'WarnSendingBroadcastMessage: %', SQLERRM;
  end;
end;
$$ language plpgsql;

-- As of migration 20240919163303.
create or replace function realtime.broadcast_changes(topic_name text, event_name text, operation text, table_name text,
  table_schema text, new record, old record, level text default 'ROW') returns void
as $$
declare
  -- Declare a variable to hold the JSONB representation of the row
  row_data jsonb := '{}'::jsonb;
begin
  if level = 'STATEMENT' then
    raise exception 'function can only be triggered for each row, not for each statement';
  end if;
  -- Check the operation type and handle accordingly
  if operation = 'INSERT' or operation = 'UPDATE' or operation = 'DELETE' then
    row_data := jsonb_build_object('old_record', old, 'record', new, 'operation', operation, 'table', table_name, 'schema', table_schema);
    perform realtime.send (row_data, event_name, topic_name);
  else
    raise exception 'Unexpected operation type: %', operation;
  end if;
exception
  when others then
    raise exception 'Failed to process the row: %', SQLERRM;
end;
$$ language plpgsql;

alter function realtime.topic() owner to supabase_realtime_admin;
alter function realtime.send(jsonb, text, text, boolean) owner to supabase_realtime_admin;
alter function realtime.send_binary(bytea, text, text, boolean) owner to supabase_realtime_admin;
alter function realtime.broadcast_changes(text, text, text, text, text, record, record, text) owner to supabase_realtime_admin;
grant execute on all functions in schema realtime to postgres, anon, authenticated, service_role;
grant all privileges on all functions in schema realtime to supabase_realtime_admin;

-- Embedded only: committed broadcasts reach the embedded Realtime server ------------------------
--
-- NOTIFY is transactional: a rolled-back send (or Realtime's own authorization probes, which are
-- always rolled back) notifies nobody, and notifications are delivered in commit order. Probes and
-- other extensions have no event and are skipped by the WHEN clause, as Supabase's replication
-- handler skips rows without one. A NOTIFY payload is limited to 8000 bytes: a larger message is
-- announced by id only and the server reads it back.

create or replace function realtime.embedded_notify_broadcast() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  -- at: inserted_at as epoch seconds, the listener's replay watermark (stack/realtime/database.ts).
  message text := json_build_object('id', new.id, 'topic', new.topic, 'event', new.event, 'private', new.private,
    'payload', new.payload, 'at', extract(epoch from new.inserted_at))::text;
begin
  if octet_length(message) > 7900 or new.binary_payload is not null then
    message := json_build_object('id', new.id, 'inserted_at', new.inserted_at, 'at', extract(epoch from new.inserted_at),
      'fetch', true)::text;
  end if;
  perform pg_catalog.pg_notify('realtime_embedded_broadcast', message);
  return null;
end;
$$;
comment on function realtime.embedded_notify_broadcast() is
  'Embedded stack only (not part of Supabase): NOTIFYs the embedded Realtime server of each broadcast row at commit.';
revoke all on function realtime.embedded_notify_broadcast() from public, anon, authenticated, service_role;

create or replace trigger embedded_notify_broadcast
  after insert on realtime.messages
  for each row
  when (new.extension = 'broadcast' and new.event is not null)
  execute function realtime.embedded_notify_broadcast();
