-- pull_logs: the hot path. The caller's logs of a vault after a cursor, ascending, one page.
--
-- Deliberately `language sql stable`, SECURITY INVOKER and WITHOUT a SET clause (the one function
-- of haex-sync without `set search_path = ''`; every name in it is schema-qualified instead):
-- PostgreSQL can then inline it into the query PostgREST issues, so a pull plans as an index range
-- scan on vault_logs' primary key (vault_id, sequence) with the RLS filter, like a plain table read.
-- A SET clause or SECURITY DEFINER would stop inlining (platform notes: the inlined shape is the
-- fastest through PostgREST 12; tests/sql-explain.test.ts checks the plan).
-- RLS on vault_logs restricts the rows to the caller's; another user's or an unknown vault id gives
-- an empty page, exactly alike.
--
-- Argument checks: the LIMIT is private.pull_page_size(...), a STABLE plpgsql function that
-- returns max_count or raises PT400. A STABLE function may appear in an inlined STABLE function; it
-- is evaluated once per execution of the Limit node, not per row. (A CASE with a raising branch
-- does not work here: the planner estimates LIMIT expressions with stable functions evaluated, so a
-- branch with constant arguments would raise at plan time even when not taken.)
-- Because pull_logs runs as the caller, `authenticated` needs USAGE on schema private and EXECUTE on
-- private.pull_page_size and private.limits (which it reads) — granted here, and nothing else there.

create function private.pull_page_size(vault_id uuid, after_sequence bigint, max_count int)
returns int
language plpgsql stable
set search_path = ''
as $$
declare
  lim private.limit_set := private.limits();
begin
  if vault_id is null then
    raise exception using errcode = 'PT400', message = 'vault_id must not be null', detail = 'vault_id';
  end if;
  if after_sequence is null or after_sequence < 0 then
    raise exception using errcode = 'PT400', message = 'after_sequence must be 0 or more', detail = 'after_sequence';
  end if;
  if max_count is null or max_count < 1 or max_count > lim.max_pull_count then
    raise exception using errcode = 'PT400',
      message = format('max_count must be 1 to %s', lim.max_pull_count), detail = 'max_count';
  end if;
  return max_count;
end
$$;
comment on function private.pull_page_size(uuid, bigint, int) is
  'Argument check of public.pull_logs: returns max_count, or raises PT400 naming the invalid argument. Executable by authenticated (pull_logs is SECURITY INVOKER).';
revoke execute on function private.pull_page_size(uuid, bigint, int) from public, anon;

grant usage on schema private to authenticated;
grant execute on function private.pull_page_size(uuid, bigint, int) to authenticated;
grant execute on function private.limits() to authenticated;

create function public.pull_logs(vault_id uuid, after_sequence bigint default 0, max_count int default 100)
returns table (id uuid, sequence bigint, encrypted_data text, nonce text, haex_timestamp text, device_id text,
               created_at timestamptz)
language sql stable
as $$
  select l.id, l.sequence, l.encrypted_data, l.nonce, l.haex_timestamp, l.device_id, l.created_at
  from public.vault_logs as l
  where l.vault_id = pull_logs.vault_id
    and l.sequence > pull_logs.after_sequence
  order by l.sequence
  limit private.pull_page_size(pull_logs.vault_id, pull_logs.after_sequence, pull_logs.max_count)
$$;
comment on function public.pull_logs(uuid, bigint, int) is
  'API, hot path: the caller''s logs of a vault with sequence > after_sequence, ascending, at most max_count (1..1000, else PT400). language sql, STABLE, SECURITY INVOKER and without a SET clause on purpose, so that PostgreSQL inlines it into PostgREST''s query (index scan on the vault_logs primary key); names are schema-qualified instead; RLS on vault_logs restricts rows to the caller''s.';
revoke execute on function public.pull_logs(uuid, bigint, int) from public, anon;
grant execute on function public.pull_logs(uuid, bigint, int) to authenticated;
