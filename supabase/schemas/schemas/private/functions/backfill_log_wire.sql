create or replace function private.backfill_log_wire (
  after_vault_id uuid    default null,
  after_sequence bigint  default null,
  batch_size     integer default 5000
)
  returns table (
    updated        bigint,
    last_vault_id  uuid,
    last_sequence  bigint
  )
  language plpgsql
  set search_path to ''
  AS $function$
declare
  size int := greatest(1, least(coalesce(batch_size, 5000), 50000));
begin
  -- One batch of the wire backfill (issue 25): the next batch_size logs after the key
  -- (after_vault_id, after_sequence) in primary-key order, those without wire get it. Returns the
  -- last key examined: pass it to the next call; last_vault_id null means the table is done. Each call
  -- is its own short transaction when called on its own (npm run db:backfill-wire does so):
  -- row locks on at most one batch, never a lock on the table; a log pushed meanwhile has its wire
  -- already, one updated meanwhile is skipped (skip locked) or rewritten by the trigger.
  return query
  with batch as (
    select l.vault_id, l.sequence, l.wire is null as missing
    from public.sync_logs l
    -- One row comparison, so that every batch is a range of the primary key (an OR for the first
    -- call would make each batch read the table from its start): the nil uuid and sequence 0 sort
    -- before every log.
    where (l.vault_id, l.sequence) > (coalesce(backfill_log_wire.after_vault_id, '00000000-0000-0000-0000-000000000000'::uuid),
                                      coalesce(backfill_log_wire.after_sequence, 0))
    order by l.vault_id, l.sequence
    limit size
  ),
  locked as (
    select l.vault_id, l.sequence
    from public.sync_logs l
    join batch b on b.vault_id = l.vault_id and b.sequence = l.sequence and b.missing
    for update of l skip locked
  ),
  done as (
    update public.sync_logs l
    set wire = private.log_wire(l.vault_id, l.sequence, l.id, l.author_id, l.device_id, l.encrypted_data, l.nonce,
                                l.haex_timestamp, l.created_at, l.record_key, l.key_generation)
    from locked k
    where l.vault_id = k.vault_id and l.sequence = k.sequence and l.wire is null
    returning 1
  ),
  last_key as (
    select b.vault_id, b.sequence from batch b order by b.vault_id desc, b.sequence desc limit 1
  )
  select (select count(*) from done), k.vault_id, k.sequence
  from (select 1) one left join last_key k on true;
end
$function$;

comment on function "private"."backfill_log_wire"(uuid, bigint, integer) is 'Resumable batched backfill of sync_logs.wire for logs stored before issue 25 (pull_page reads those through a slower fallback until then). Maintenance, run by the operator: not executable by API roles.';

revoke all on function "private"."backfill_log_wire"(uuid, bigint, integer) from public;

grant execute on function "private"."backfill_log_wire"(uuid, bigint, integer) to "postgres";
