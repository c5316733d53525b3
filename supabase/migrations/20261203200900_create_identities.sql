-- Identities (issue 18 item 1): each user's X25519 key (receives vault keys) and Ed25519 key (signs
-- grants), made on their device. The public halves, self-signed, are in public.identities, which
-- every signed-in user may read; the private halves only wrapped (PBKDF2-SHA256 600,000 iterations
-- over a secret the user knows, AES-256-GCM) in public.identity_private_keys, which only the user
-- reads. Wire format and signature bytes: client/src/sharing/identity.ts. The server checks shapes
-- only; signatures are checked by the devices that rely on them (a server could substitute a key,
-- which the self-signature does not prevent but the fingerprint screen reveals: docs/sharing.md).
--
-- An identity is written once (create_identity); there is no replacement yet (PT409 when present).

set lock_timeout = '1s'; -- new objects; the foreign keys lock the referenced tables briefly

create table public.identities (
  user_id uuid primary key references auth.users (id) on delete cascade,
  encryption_public_key text not null check (length(encryption_public_key) = 44),  -- base64, 32 bytes X25519
  signing_public_key text not null check (length(signing_public_key) = 44),        -- base64, 32 bytes Ed25519
  signature text not null check (length(signature) = 88),                          -- base64, 64 bytes Ed25519
  created_at timestamptz not null default now()
);
comment on table public.identities is
  'Public identity keys of users (X25519 for receiving, Ed25519 for signing), self-signed. Every signed-in user reads them; written by create_identity.';

create table public.identity_private_keys (
  user_id uuid primary key references auth.users (id) on delete cascade,
  encrypted_private_keys text not null,
  salt text not null,
  nonce text not null,
  created_at timestamptz not null default now()
);
comment on table public.identity_private_keys is
  'A user''s identity private keys, wrapped on the device under PBKDF2-SHA256(secret) and AES-256-GCM. Only the user reads them.';

alter table public.identities enable row level security;
alter table public.identity_private_keys enable row level security;
revoke all on table public.identities from anon, authenticated;
revoke all on table public.identity_private_keys from anon, authenticated;
grant select on table public.identities to authenticated;
grant select on table public.identity_private_keys to authenticated;

create policy "Signed in users can read identities"
  on public.identities for select to authenticated
  using (true);

create policy "Users can read their own identity private keys"
  on public.identity_private_keys for select to authenticated
  using (user_id = (select private.caller_id()));

create function public.create_identity(encryption_public_key text, signing_public_key text, signature text,
  encrypted_private_keys text, salt text, nonce text)
returns void
language plpgsql volatile
security definer -- writes identities and identity_private_keys, which have no write grants
set search_path = ''
as $$
declare
  uid uuid := private.require_uid();  -- PT401 without a user, an ended session or a deleted account
begin
  perform private.check_key_field('encryption_public_key', create_identity.encryption_public_key, 44);
  perform private.check_key_field('signing_public_key', create_identity.signing_public_key, 44);
  perform private.check_key_field('signature', create_identity.signature, 88);
  perform private.check_key_field('encrypted_private_keys', create_identity.encrypted_private_keys, 1024);
  perform private.check_key_field('salt', create_identity.salt, 64);
  perform private.check_key_field('nonce', create_identity.nonce, 24);
  if length(create_identity.encryption_public_key) <> 44 or length(create_identity.signing_public_key) <> 44
     or length(create_identity.signature) <> 88 then
    raise exception using errcode = 'PT400', message = 'public keys must be 32 bytes and the signature 64 bytes',
      detail = 'signature';
  end if;
  insert into public.identities (user_id, encryption_public_key, signing_public_key, signature)
  values (uid, create_identity.encryption_public_key, create_identity.signing_public_key, create_identity.signature)
  on conflict do nothing;
  if not found then
    raise exception using errcode = 'PT409', message = 'this user already has an identity', detail = 'identity',
      hint = 'identity_exists';
  end if;
  insert into public.identity_private_keys (user_id, encrypted_private_keys, salt, nonce)
  values (uid, create_identity.encrypted_private_keys, create_identity.salt, create_identity.nonce);
end
$$;
comment on function public.create_identity(text, text, text, text, text, text) is
  'API: stores the caller''s identity (public keys, self-signature, wrapped private keys) once; PT409 hint identity_exists when present. SECURITY DEFINER because the tables have no write grants; the row is the caller''s (private.caller_id()).';
revoke execute on function public.create_identity(text, text, text, text, text, text) from public, anon;
grant execute on function public.create_identity(text, text, text, text, text, text) to authenticated;

-- Inviting by email needs the invitee's public keys. This tells a signed-in user whether an email
-- belongs to a user with an identity (the price of inviting by email; docs/sharing.md).
create function public.find_identity(email text)
returns table (user_id uuid, email text, encryption_public_key text, signing_public_key text, signature text)
language sql stable
security definer -- reads auth.users, which API roles cannot read
set search_path = ''
as $$
  select i.user_id, u.email::text, i.encryption_public_key, i.signing_public_key, i.signature
  from auth.users u
  join public.identities i on i.user_id = u.id
  where (select private.caller_id()) is not null
    and u.email = lower(find_identity.email) and u.is_sso_user = false  -- users_email_partial_key; GoTrue stores emails in lower case
  limit 1
$$;
comment on function public.find_identity(text) is
  'API: the identity (public keys and self-signature) of the user with this email, or no row. SECURITY DEFINER to read auth.users; signed-in callers only.';
revoke execute on function public.find_identity(text) from public, anon;
grant execute on function public.find_identity(text) to authenticated;

reset lock_timeout;
