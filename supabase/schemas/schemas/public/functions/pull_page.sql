create or replace function public.pull_page (
  vault_id       uuid,
  after_sequence bigint  default 0,
  max_count      integer default 1000
)
  returns public."application/json"
  language plpgsql
  stable
  security definer
  set search_path to ''
  AS $function$
declare
  lim private.limit_set := private.limits();
  -- The session check, once per request (issue 25, item 2).
  uid uuid := private.caller_id();
  last bigint;
  compacted bigint;
  page text;
begin
  if uid is null then
    raise exception using errcode = 'PT401', message = 'a signed-in user is required', detail = 'authorization';
  end if;
  if pull_page.vault_id is null then
    raise exception using errcode = 'PT400', message = 'vault_id must not be null', detail = 'vault_id';
  end if;
  if pull_page.after_sequence is null or pull_page.after_sequence < 0 then
    raise exception using errcode = 'PT400', message = 'after_sequence must be 0 or more', detail = 'after_sequence';
  end if;
  if pull_page.max_count is null or pull_page.max_count < 1 or pull_page.max_count > lim.max_pull_count then
    raise exception using errcode = 'PT400',
      message = format('max_count must be 1 to %s', lim.max_pull_count), detail = 'max_count';
  end if;
  -- The membership check, once: any role may read. The vault's state comes from the same snapshot
  -- as the logs below (a STABLE function's statements all run in the calling statement's snapshot).
  select v.last_sequence, v.compacted_through into last, compacted
  from public.vaults v
  where v.id = pull_page.vault_id
    and exists (select from public.vault_members m where m.vault_id = v.id and m.user_id = uid);
  if not found then
    raise exception using errcode = 'PT404', message = 'vault not found', detail = 'vault_id';
  end if;
  if pull_page.after_sequence > last then
    raise exception using errcode = 'PT409',
      message = format('after_sequence %s is beyond the vault''s last sequence %s', pull_page.after_sequence, last),
      detail = 'after_sequence', hint = 'cursor_ahead';
  end if;

  -- One index range scan (max_count + 1 rows at most: the extra one only says hasMore) and one
  -- concatenation of the stored wire texts; nothing is escaped or parsed here. The text is the HTTP
  -- API's page (docs/http-api.md, POST /pull) byte for byte, so the Edge Function and the client
  -- take it as it is. A page ends at
  -- max_count and at the byte budget of log fields, exactly as pull_logs' pages do (the first log is
  -- always in it).
  -- One concat() and not a chain of ||: each || copies the whole page so far into a new text, and
  -- those copies of ~0.6 MB (several per page, all freed at the end of the statement) made glibc
  -- hand memory back and fault it in again: ~2,500 page faults a page and 5 ms of Postgres CPU
  -- through PostgREST (measured 2026-12-06; bench/profile-pull-faults.ts). concat() writes each
  -- part once; null parts are empty, as the coalesce()s of the || version made them.
  select concat('{"logs":[', string_agg(p.wire, ',' order by p.sequence) filter (where p.in_page),
                '],"hasMore":', coalesce(bool_or(not p.in_page), false)::text,
                ',"nextSequence":', case when bool_or(not p.in_page) then max(p.sequence) filter (where p.in_page) else last end,
                ',"lastSequence":', last,
                ',"compactedThrough":', compacted, '}')
  into page
  from (
    select r.wire, r.sequence,
           row_number() over w <= pull_page.max_count
             and sum(r.bytes) over w - r.bytes < lim.max_pull_bytes as in_page
    from (
      select coalesce(l.wire, private.log_wire(l.vault_id, l.sequence, l.id, l.author_id, l.device_id, l.encrypted_data,
                                               l.nonce, l.haex_timestamp, l.created_at, l.record_key, l.key_generation)) as wire,
             l.sequence,
             octet_length(l.encrypted_data) + octet_length(l.nonce) + octet_length(l.haex_timestamp)
               + coalesce(octet_length(l.device_id), 0) + coalesce(octet_length(l.record_key), 0) as bytes
      from public.sync_logs as l
      where l.vault_id = pull_page.vault_id
        and l.sequence > pull_page.after_sequence
        and l.sequence <= last
      order by l.sequence
      limit pull_page.max_count + 1
    ) as r
    window w as (order by r.sequence rows between unbounded preceding and current row)
  ) as p;
  return page;
end
$function$;

comment on function "public"."pull_page"(uuid, bigint, integer) is 'API, hot path (issue 25): the page pull_logs returns, as the JSON text of the HTTP API''s page ({logs, hasMore, nextSequence, lastSequence, compactedThrough}, camelCase keys, docs/http-api.md), built by concatenating the logs'' stored wire (sync_logs.wire) in one index range scan. Returns the media-type domain "application/json", so that PostgREST sends the text as the body without parsing it; callers must send Accept: application/json (with */* PostgREST wraps it as a JSON string). Same arguments, errors, byte budget, exact has_more and single snapshot as pull_logs. SECURITY DEFINER so that the session and membership are checked once per call instead of by RLS per row.';

revoke all on function "public"."pull_page"(uuid, bigint, integer) from public;

grant execute on function "public"."pull_page"(uuid, bigint, integer) to "authenticated", "postgres", "service_role";
