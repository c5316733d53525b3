create or replace function private.pull_vault_state (
  vault_id       uuid,
  after_sequence bigint,
  max_count      integer
)
  returns bigint
  language plpgsql
  stable
  set search_path to ''
  AS $function$
declare
  lim private.limit_set := private.limits();
  last bigint;
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
  -- As the caller: RLS ("Owners can read their vaults") hides other users' vaults.
  select v.last_sequence into last from public.vaults v where v.id = pull_vault_state.vault_id;
  if not found then
    raise exception using errcode = 'PT404', message = 'vault not found', detail = 'vault_id';
  end if;
  if after_sequence > last then
    raise exception using errcode = 'PT409',
      message = format('after_sequence %s is beyond the vault''s last sequence %s', after_sequence, last),
      detail = 'after_sequence', hint = 'cursor_ahead';
  end if;
  return last;
end
$function$;

comment on function "private"."pull_vault_state"(uuid, bigint, integer) is 'Argument and vault check of public.pull_logs: the vault''s last_sequence, or PT400 / PT404 / PT409 cursor_ahead. Executable by authenticated (pull_logs is SECURITY INVOKER); reads only the caller''s own vault row (RLS).';

revoke all on function "private"."pull_vault_state"(uuid, bigint, integer) from public;

grant execute on function "private"."pull_vault_state"(uuid, bigint, integer) to "authenticated", "postgres";
