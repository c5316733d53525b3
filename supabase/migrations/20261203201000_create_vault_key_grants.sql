-- Key grants (issue 18 items 3 and 4): one row per vault, key generation and member, holding that
-- generation's vault key sealed to the member's X25519 identity key and signed by the sender's
-- Ed25519 key (format: client/src/sharing/grant.ts). The server cannot open or forge one; it only
-- stores them, and hands each member their own while they are a member.
--
-- Written by accept_invitation (the grants the inviter sealed), store_own_grants (a member sealing
-- keys to itself after claiming a link), and rotate_vault_key (the new generation, for every member).
-- sender_id has no foreign key on purpose: a grant stays valid when its sender's account is gone
-- (the recipient checked the signature when it first used it; docs/sharing.md).

set lock_timeout = '1s'; -- new objects; the foreign keys lock the referenced tables briefly

create table public.vault_key_grants (
  vault_id uuid not null references public.vaults (id) on delete cascade,
  key_generation bigint not null check (key_generation >= 1),
  recipient_id uuid not null references auth.users (id) on delete cascade,
  sender_id uuid not null,
  ephemeral_public_key text not null,
  nonce text not null,
  sealed_key text not null,
  signature text not null,
  created_at timestamptz not null default now(),
  primary key (vault_id, key_generation, recipient_id)
);
comment on table public.vault_key_grants is
  'Vault keys per member and generation, sealed to the member''s identity and signed by the sender. Members read their own.';

-- The policy reads recipient_id (and vault_id, which leads the primary key); auth.users cascades.
create index vault_key_grants_recipient_id_idx on public.vault_key_grants (recipient_id, vault_id, key_generation);

alter table public.vault_key_grants enable row level security;
revoke all on table public.vault_key_grants from anon, authenticated;
grant select on table public.vault_key_grants to authenticated;

create policy "Members can read their own key grants"
  on public.vault_key_grants for select to authenticated
  using (recipient_id = (select private.caller_id()) and vault_id in (select private.member_vault_ids()));

-- Validates a JSON array of sealed grants: each { key_generation?, recipient_id?, ephemeral_public_key
-- (32 bytes), nonce (12 bytes), sealed_key (32-byte key + 16-byte tag), signature (64 bytes) }; at
-- most 1,000 (a bound on the loop). PT400 naming the first bad field, e.g. grants[2].nonce.
create function private.check_grants(field text, grants jsonb, with_recipient boolean, with_generation boolean)
returns int
language plpgsql stable
set search_path = ''
as $$
declare
  g jsonb;
  i int := 0;
  path text;
begin
  if grants is null or jsonb_typeof(grants) <> 'array' or jsonb_array_length(grants) not between 1 and 1000 then
    raise exception using errcode = 'PT400', message = format('%s must be an array of 1 to 1000 grants', field),
      detail = field;
  end if;
  for g in select e from jsonb_array_elements(grants) as e loop
    path := format('%s[%s]', field, i);
    if jsonb_typeof(g) <> 'object' then
      raise exception using errcode = 'PT400', message = format('%s must be an object', path), detail = path;
    end if;
    if with_recipient and (jsonb_typeof(g -> 'recipient_id') is distinct from 'string'
        or (g ->> 'recipient_id') !~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$') then
      raise exception using errcode = 'PT400', message = format('%s.recipient_id must be a uuid', path),
        detail = path || '.recipient_id';
    end if;
    if with_generation and (jsonb_typeof(g -> 'key_generation') is distinct from 'number'
        or (g ->> 'key_generation') !~ '^[1-9][0-9]{0,8}$') then
      raise exception using errcode = 'PT400', message = format('%s.key_generation must be a positive integer', path),
        detail = path || '.key_generation';
    end if;
    if jsonb_typeof(g -> 'ephemeral_public_key') is distinct from 'string' or length(g ->> 'ephemeral_public_key') <> 44
       or not private.is_base64(g ->> 'ephemeral_public_key') then
      raise exception using errcode = 'PT400', message = format('%s.ephemeral_public_key must be 32 bytes of base64', path),
        detail = path || '.ephemeral_public_key';
    end if;
    if jsonb_typeof(g -> 'nonce') is distinct from 'string' or length(g ->> 'nonce') <> 16
       or not private.is_base64(g ->> 'nonce') then
      raise exception using errcode = 'PT400', message = format('%s.nonce must be 12 bytes of base64', path),
        detail = path || '.nonce';
    end if;
    if jsonb_typeof(g -> 'sealed_key') is distinct from 'string' or length(g ->> 'sealed_key') <> 64
       or not private.is_base64(g ->> 'sealed_key') then
      raise exception using errcode = 'PT400', message = format('%s.sealed_key must be 48 bytes of base64', path),
        detail = path || '.sealed_key';
    end if;
    if jsonb_typeof(g -> 'signature') is distinct from 'string' or length(g ->> 'signature') <> 88
       or not private.is_base64(g ->> 'signature') then
      raise exception using errcode = 'PT400', message = format('%s.signature must be 64 bytes of base64', path),
        detail = path || '.signature';
    end if;
    i := i + 1;
  end loop;
  return i;
end
$$;
comment on function private.check_grants(text, jsonb, boolean, boolean) is
  'Validates an array of sealed grants (shapes only) or raises PT400 naming the first bad field; returns the count.';
revoke execute on function private.check_grants(text, jsonb, boolean, boolean) from public, anon, authenticated;

-- A member stores grants it sealed to itself (after claiming an invite link, whose grants were
-- sealed to the link's secret). Only its own rows, only generations up to the vault's current one;
-- an existing grant is kept (first writer wins: a member cannot replace a grant an inviter made).
create function public.store_own_grants(vault_id uuid, grants jsonb)
returns void
language plpgsql volatile
security definer -- writes vault_key_grants, which has no write grants
set search_path = ''
as $$
declare
  uid uuid := private.caller_id();
  current_generation int;
begin
  perform private.require_vault_role(store_own_grants.vault_id, 'reader');
  perform private.check_grants('grants', store_own_grants.grants, false, true);
  select v.key_generation into current_generation from public.vaults v where v.id = store_own_grants.vault_id;
  if exists (select from jsonb_array_elements(store_own_grants.grants) e
             where (e ->> 'key_generation')::int > current_generation) then
    raise exception using errcode = 'PT400', message = 'grants[].key_generation must not exceed the vault''s key generation',
      detail = 'grants';
  end if;
  insert into public.vault_key_grants (vault_id, key_generation, recipient_id, sender_id, ephemeral_public_key, nonce,
                                       sealed_key, signature)
  select store_own_grants.vault_id, (e ->> 'key_generation')::int, uid, uid, e ->> 'ephemeral_public_key',
         e ->> 'nonce', e ->> 'sealed_key', e ->> 'signature'
  from jsonb_array_elements(store_own_grants.grants) e
  on conflict do nothing;
end
$$;
comment on function public.store_own_grants(uuid, jsonb) is
  'API: a member stores key grants sealed to itself (e.g. after claiming an invite link); existing grants are kept. SECURITY DEFINER because vault_key_grants has no write grants; membership through private.require_vault_role.';
revoke execute on function public.store_own_grants(uuid, jsonb) from public, anon;
grant execute on function public.store_own_grants(uuid, jsonb) to authenticated;

reset lock_timeout;
