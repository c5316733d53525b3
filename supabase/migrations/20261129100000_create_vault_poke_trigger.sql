-- Live sync: every push that stores at least one log sends a "poke" to the vault's devices through
-- Supabase Realtime Broadcast, in the push's own transaction (docs/realtime.md).
--
--   realtime.send({ "vaultId": "<uuid>", "lastSequence": <n> }, 'logs', 'vault:<uuid>', private => true)
--
-- The payload is a hint and carries no ciphertext and no log ids: a device that receives it pulls
-- after its cursor, which stays the truth. realtime.send inserts into realtime.messages, which
-- Realtime delivers once the transaction commits, so a rolled-back push sends nothing. It swallows its
-- own errors (a WARNING), so a failing send never fails a push.
--
-- push_logs updates vaults.last_sequence exactly once per push that stores logs (and not at all for
-- a push of duplicates only), so a trigger on that column is the one place that sees every such push
-- without touching push_logs itself. The trigger runs as the updating role: inside push_logs
-- (SECURITY DEFINER) that is the function's owner, who may write realtime.messages; no API role can
-- update vaults at all. So this function needs no SECURITY DEFINER of its own.

create function private.send_vault_poke()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  perform realtime.send(
    jsonb_build_object('vaultId', new.id, 'lastSequence', new.last_sequence),
    'logs',
    'vault:' || new.id::text,
    true
  );
  return null;
end;
$$;

comment on function private.send_vault_poke() is
  'Trigger: after a push raised vaults.last_sequence, broadcasts {vaultId, lastSequence} as event logs on private topic vault:<id>.';
revoke execute on function private.send_vault_poke() from public, anon, authenticated;

create trigger send_vault_poke
  after update of last_sequence on public.vaults
  for each row
  when (new.last_sequence > old.last_sequence)
  execute function private.send_vault_poke();
