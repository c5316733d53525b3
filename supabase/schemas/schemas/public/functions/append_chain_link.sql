create or replace function public.append_chain_link (
  vault_id  uuid,
  body      text,
  signature text
)
  returns jsonb
  language plpgsql
  security definer
  set search_path to ''
  AS $function$
declare
  uid uuid := private.require_uid();
  caller_role text;
  parsed jsonb;
  last public.vault_chain_links;
  link_hash text;
begin
  perform private.require_arg('vault_id', append_chain_link.vault_id);
  caller_role := private.require_vault_role(append_chain_link.vault_id, 'reader');
  if append_chain_link.body is null or octet_length(append_chain_link.body) > 65536 then
    raise exception using errcode = 'PT400', message = 'body must be a JSON text of at most 65536 bytes', detail = 'body';
  end if;
  if append_chain_link.signature is null or length(append_chain_link.signature) <> 88
     or not private.is_base64(append_chain_link.signature) then
    raise exception using errcode = 'PT400', message = 'signature must be 64 bytes of base64', detail = 'signature';
  end if;
  begin
    parsed := append_chain_link.body::jsonb;
  exception when others then
    raise exception using errcode = 'PT400', message = 'body must be JSON', detail = 'body';
  end;
  if jsonb_typeof(parsed) <> 'object' or parsed ->> 'v' is distinct from '1'
     or jsonb_typeof(parsed -> 'seq') is distinct from 'number' or (parsed ->> 'seq') !~ '^[0-9]{1,18}$'
     or parsed ->> 'vault' is distinct from append_chain_link.vault_id::text
     or parsed ->> 'author' is distinct from uid::text
     or (parsed ->> 'type') is null
     or (parsed ->> 'type') not in ('create', 'add', 'role', 'remove', 'rotate', 'link', 'join') then
    raise exception using errcode = 'PT400',
      message = 'body must be a chain link of version 1 of this vault, by the caller, with a seq and a known type',
      detail = 'body';
  end if;

  -- Under the vault lock, the caller's role again (a removal may have committed meanwhile).
  perform from public.vaults v where v.id = append_chain_link.vault_id for share;
  caller_role := private.require_vault_role(append_chain_link.vault_id, 'reader');
  if (parsed ->> 'type') = 'create' and caller_role <> 'owner' then
    raise exception using errcode = 'PT403', message = 'only the owner starts the chain', detail = 'body';
  end if;
  if (parsed ->> 'type') in ('add', 'role', 'rotate', 'link') and private.role_rank(caller_role) < private.role_rank('admin') then
    raise exception using errcode = 'PT403', message = format('a %s may not sign membership changes', caller_role),
      detail = 'body';
  end if;
  if (parsed ->> 'type') = 'remove' and (parsed ->> 'member') is distinct from uid::text
     and private.role_rank(caller_role) < private.role_rank('admin') then
    raise exception using errcode = 'PT403', message = format('a %s removes only itself', caller_role), detail = 'body';
  end if;

  select l.* into last from public.vault_chain_links l
  where l.vault_id = append_chain_link.vault_id order by l.seq desc limit 1;
  if (parsed ->> 'seq')::bigint <> coalesce(last.seq + 1, 0)
     or (parsed ->> 'prev') is distinct from last.hash
     or ((parsed ->> 'type') = 'create') <> (last.seq is null) then
    raise exception using errcode = 'PT409',
      message = format('the chain''s next link is %s after %s', coalesce(last.seq + 1, 0), coalesce(last.hash, 'nothing')),
      detail = 'body', hint = 'chain_changed';
  end if;
  link_hash := private.chain_link_hash(append_chain_link.body, append_chain_link.signature);
  insert into public.vault_chain_links (vault_id, seq, author_id, type, body, signature, hash)
  values (append_chain_link.vault_id, (parsed ->> 'seq')::bigint, uid, parsed ->> 'type', append_chain_link.body,
          append_chain_link.signature, link_hash)
  on conflict do nothing;
  if not found then
    raise exception using errcode = 'PT409', message = 'another link took this seq', detail = 'body', hint = 'chain_changed';
  end if;
  return jsonb_build_object('seq', (parsed ->> 'seq')::bigint, 'hash', link_hash);
end
$function$;

comment on function "public"."append_chain_link"(uuid, text, text) is 'API: appends a signed link to a vault''s membership chain (members; the first link only the owner; membership changes admins and the owner); PT409 chain_changed when seq/prev do not extend the chain. Signatures are checked by the devices, not here. SECURITY DEFINER because vault_chain_links has no write grants; access through private.require_vault_role.';

revoke all on function "public"."append_chain_link"(uuid, text, text) from public;

grant execute on function "public"."append_chain_link"(uuid, text, text) to "authenticated", "postgres", "service_role";
