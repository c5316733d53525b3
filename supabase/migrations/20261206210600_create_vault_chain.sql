-- The membership chain of a vault (issue 24 item 1; design, wire format and threat model in
-- docs/sharing.md, client code in client/src/sharing/chain.ts). Every membership change and every
-- key generation is a link signed on a device by a member whose right to make it chains back to the
-- vault's creator; devices replay and verify the chain and trust nothing else about membership.
--
-- The server cannot check an Ed25519 signature (no such function in PostgreSQL), and devices do not
-- trust it anyway. It keeps the chain append-only and in order, and checks what it can:
--   * seq is the next number (0 for the first link), prev names the SHA-256 of the last link (the
--     server computes each link's hash itself), vault and author are the vault and the caller;
--   * the caller is a member (the first link: the vault's owner); type is one of the known ones;
--     membership changes and rotations come from admins and the owner (its own view of the roles);
--   * a link is at most 64 KiB of JSON, the signature 64 bytes of base64.
-- A concurrent append of the same seq loses with PT409 hint chain_changed: re-read and sign again.
-- Members read the whole chain (RLS); nobody updates or deletes a link (no grants; the vault's
-- deletion cascades).
--
-- Lock: append takes the vault row FOR SHARE (as invitations do), so appends of one vault queue
-- behind membership changes and rotations in commit order, and the (vault_id, seq) primary key
-- decides between two appends of the same seq.

set lock_timeout = '1s'; -- a new table; its foreign key locks vaults for an instant

create table public.vault_chain_links (
  vault_id uuid not null references public.vaults (id) on delete cascade,
  seq bigint not null check (seq >= 0),
  author_id uuid not null,  -- no foreign key: a link stays part of the chain when its author's account is gone
  type text not null,
  body text not null check (octet_length(body) <= 65536),  -- the signed JSON, byte for byte
  signature text not null check (length(signature) = 88),   -- base64, 64 bytes Ed25519
  hash text not null,                                       -- hex SHA-256, see private.chain_link_hash
  created_at timestamptz not null default now(),
  primary key (vault_id, seq)
);
comment on table public.vault_chain_links is
  'The signed membership chain of each vault (docs/sharing.md): append-only, numbered from 0, each link naming its predecessor''s hash. Members read it; written by append_chain_link.';

alter table public.vault_chain_links enable row level security;
revoke all on table public.vault_chain_links from anon, authenticated;
grant select on table public.vault_chain_links to authenticated;

-- The primary key (vault_id, seq) serves the policy's vault_id.
create policy "Members can read the chain of their vaults"
  on public.vault_chain_links for select to authenticated
  using (vault_id in (select private.member_vault_ids()));

create function private.chain_link_hash(body text, signature text) returns text
language sql immutable
set search_path = ''
as $$
  -- hex SHA-256 of UTF-8 ("haex-sync/chain-link/v1" 0x00 body 0x00 signature); 0x00 cannot occur in either
  select encode(sha256(convert_to('haex-sync/chain-link/v1', 'UTF8') || '\x00'::bytea || convert_to(body, 'UTF8')
                       || '\x00'::bytea || convert_to(signature, 'UTF8')), 'hex')
$$;
comment on function private.chain_link_hash(text, text) is
  'The hash a chain link''s successor names as prev (clients compute the same: client/src/sharing/chain.ts).';
revoke execute on function private.chain_link_hash(text, text) from public, anon, authenticated;

create function public.append_chain_link(vault_id uuid, body text, signature text)
returns jsonb
language plpgsql volatile
security definer -- writes vault_chain_links, which has no write grants
set search_path = ''
as $$
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
$$;
comment on function public.append_chain_link(uuid, text, text) is
  'API: appends a signed link to a vault''s membership chain (members; the first link only the owner; membership changes admins and the owner); PT409 chain_changed when seq/prev do not extend the chain. Signatures are checked by the devices, not here. SECURITY DEFINER because vault_chain_links has no write grants; access through private.require_vault_role.';
revoke execute on function public.append_chain_link(uuid, text, text) from public, anon;
grant execute on function public.append_chain_link(uuid, text, text) to authenticated;

create function public.list_chain_links(vault_id uuid, after_seq bigint default -1)
returns table (seq bigint, body text, signature text, hash text)
language sql stable
set search_path = ''
as $$
  select l.seq, l.body, l.signature, l.hash from public.vault_chain_links l
  where l.vault_id = list_chain_links.vault_id and l.seq > list_chain_links.after_seq
  order by l.seq
$$;
comment on function public.list_chain_links(uuid, bigint) is
  'API: the links of a vault''s chain after after_seq, in order (none for a non-member). SECURITY INVOKER; RLS applies (members only).';
revoke execute on function public.list_chain_links(uuid, bigint) from public, anon;
grant execute on function public.list_chain_links(uuid, bigint) to authenticated;

reset lock_timeout;
