-- Invite links (issue 18 item 3): for someone who has not signed up yet. A link is
-- <origin>#<token>.<secret>: the server sees the token only when the link is claimed and stores only
-- its SHA-256; the secret never reaches it. The inviter's device seals the vault keys under a key
-- derived from the secret (client/src/sharing/links.ts) and signs them; the claimer opens them and
-- stores grants sealed to its own identity (store_own_grants).
--
-- Uses are consumed atomically: ONE `update ... set used = used + 1 where used < max_uses and
-- expires_at > now() ... returning`, so of two concurrent claims of the last use exactly one wins
-- (the loser re-checks the row after the winner commits and matches nothing). A member claiming
-- again gets the same answer without consuming a use. Lock order: vault (FOR SHARE), then the link
-- row, as rotate_vault_key, which voids the links of the generation it replaces.

set lock_timeout = '1s'; -- new objects; the foreign keys lock the referenced tables briefly

create table public.vault_invite_links (
  id uuid primary key default gen_random_uuid(),
  vault_id uuid not null references public.vaults (id) on delete cascade,
  created_by uuid not null references auth.users (id) on delete cascade,
  token_hash text not null unique,  -- hex of SHA-256(token)
  role text not null check (role in ('admin', 'writer', 'reader')),
  key_generation bigint not null,
  grants jsonb not null,
  max_uses bigint not null check (max_uses between 1 and 1000),
  used bigint not null default 0 check (used >= 0 and used <= max_uses),
  void boolean not null default false,
  expires_at timestamptz not null,
  created_at timestamptz not null default now()
);
comment on table public.vault_invite_links is
  'Invite links: SHA-256 of the token, role, uses, expiry, and the vault keys sealed under the link''s secret. Only through create_invite_link and claim_invite_link.';
create index vault_invite_links_vault_id_idx on public.vault_invite_links (vault_id);
create index vault_invite_links_created_by_idx on public.vault_invite_links (created_by);

alter table public.vault_invite_links enable row level security;
revoke all on table public.vault_invite_links from anon, authenticated;

create function public.create_invite_link(vault_id uuid, token text, role text, key_generation int, grants jsonb,
  max_uses int default 1, expires_in_seconds int default 604800)
returns jsonb
language plpgsql volatile
security definer -- writes vault_invite_links, which has no grants
set search_path = ''
as $$
declare
  uid uuid := private.caller_id();
  caller_role text := private.require_vault_role(create_invite_link.vault_id, 'admin');
  current_generation int;
  link public.vault_invite_links;
begin
  if create_invite_link.token is null or create_invite_link.token !~ '^[A-Za-z0-9_-]{22,64}$' then
    raise exception using errcode = 'PT400', message = 'token must be 22 to 64 base64url characters', detail = 'token';
  end if;
  if create_invite_link.role is null or create_invite_link.role not in ('admin', 'writer', 'reader') then
    raise exception using errcode = 'PT400', message = 'role must be admin, writer or reader', detail = 'role';
  end if;
  if create_invite_link.role = 'admin' and caller_role <> 'owner' then
    raise exception using errcode = 'PT403', message = 'only the owner invites admins', detail = 'role';
  end if;
  if create_invite_link.max_uses is null or create_invite_link.max_uses not between 1 and 1000 then
    raise exception using errcode = 'PT400', message = 'max_uses must be 1 to 1000', detail = 'max_uses';
  end if;
  if create_invite_link.expires_in_seconds is null or create_invite_link.expires_in_seconds not between 60 and 2592000 then
    raise exception using errcode = 'PT400', message = 'expires_in_seconds must be 60 to 2592000', detail = 'expires_in_seconds';
  end if;
  perform private.require_arg('key_generation', create_invite_link.key_generation);
  perform private.check_grants('grants', create_invite_link.grants, false, true);
  select v.key_generation into current_generation from public.vaults v where v.id = create_invite_link.vault_id for share;
  if create_invite_link.key_generation <> current_generation then
    raise exception using errcode = 'PT409', message = format('the vault''s key generation is %s', current_generation),
      detail = 'key_generation', hint = 'stale_key_generation';
  end if;
  insert into public.vault_invite_links (vault_id, created_by, token_hash, role, key_generation, grants, max_uses, expires_at)
  values (create_invite_link.vault_id, uid, encode(sha256(convert_to(create_invite_link.token, 'UTF8')), 'hex'), create_invite_link.role,
          current_generation, create_invite_link.grants, create_invite_link.max_uses,
          now() + make_interval(secs => create_invite_link.expires_in_seconds))
  on conflict do nothing
  returning * into link;
  if link.id is null then
    raise exception using errcode = 'PT409', message = 'token already used for a link', detail = 'token';
  end if;
  return jsonb_build_object('id', link.id, 'vault_id', link.vault_id, 'role', link.role, 'max_uses', link.max_uses,
    'key_generation', link.key_generation, 'expires_at', link.expires_at);
end
$$;
comment on function public.create_invite_link(uuid, text, text, int, jsonb, int, int) is
  'API: an invite link (admins and the owner) with max_uses and expiry; the server keeps the token''s SHA-256 only. SECURITY DEFINER because vault_invite_links has no grants; access through private.require_vault_role.';
revoke execute on function public.create_invite_link(uuid, text, text, int, jsonb, int, int) from public, anon;
grant execute on function public.create_invite_link(uuid, text, text, int, jsonb, int, int) to authenticated;

create function public.claim_invite_link(token text)
returns jsonb
language plpgsql volatile
security definer -- writes vault_invite_links and vault_members, which have no write grants
set search_path = ''
as $$
declare
  uid uuid := private.require_uid();  -- PT401 without a user, an ended session or a deleted account
  hash text;
  target uuid;
  link public.vault_invite_links;
  member_role text;
begin
  if claim_invite_link.token is null or claim_invite_link.token !~ '^[A-Za-z0-9_-]{22,64}$' then
    raise exception using errcode = 'PT400', message = 'token must be 22 to 64 base64url characters', detail = 'token';
  end if;
  if not exists (select from public.identities i where i.user_id = uid) then
    raise exception using errcode = 'PT409', message = 'create an identity before joining a vault', detail = 'identity',
      hint = 'identity_required';
  end if;
  hash := encode(sha256(convert_to(claim_invite_link.token, 'UTF8')), 'hex');
  select l.vault_id into target from public.vault_invite_links l where l.token_hash = hash;
  if not found then
    raise exception using errcode = 'PT404', message = 'invite link not found', detail = 'token';
  end if;
  perform from public.vaults v where v.id = target for share;  -- lock order: vault, then link

  member_role := (select m.role from public.vault_members m where m.vault_id = target and m.user_id = uid);
  if member_role is null then
    update public.vault_invite_links l set used = l.used + 1
    where l.token_hash = hash and l.used < l.max_uses and l.expires_at > now() and not l.void
    returning * into link;
    if not found then
      raise exception using errcode = 'PT409', message = 'this invite link is used up, expired or void',
        detail = 'token', hint = 'invitation_closed';
    end if;
    insert into public.vault_members (vault_id, user_id, role, added_by) values (target, uid, link.role, link.created_by);
    member_role := link.role;
  else
    select l.* into link from public.vault_invite_links l where l.token_hash = hash;
  end if;
  return jsonb_build_object('vault_id', target, 'role', member_role, 'key_generation', link.key_generation,
    'grants', link.grants, 'inviter_id', link.created_by);
end
$$;
comment on function public.claim_invite_link(text) is
  'API: joins the vault of an invite link, consuming one use atomically (PT409 invitation_closed when used up, expired or void; PT404 unknown); answers the sealed grants for the link''s secret. SECURITY DEFINER because the tables have no write grants.';
revoke execute on function public.claim_invite_link(text) from public, anon;
grant execute on function public.claim_invite_link(text) to authenticated;

reset lock_timeout;
