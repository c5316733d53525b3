-- Reads of the sharing tables as functions, so that both transports (supabase-js rpc and the sync
-- Edge Function) read them the same way. SECURITY INVOKER: the tables' policies decide
-- ("Users can read their own identity private keys", "Members can read their own key grants").

set lock_timeout = '1s';

create function public.get_identity()
returns table (user_id uuid, encryption_public_key text, signing_public_key text, signature text,
               encrypted_private_keys text, salt text, nonce text)
language sql stable
set search_path = ''
as $$
  select i.user_id, i.encryption_public_key, i.signing_public_key, i.signature, p.encrypted_private_keys, p.salt, p.nonce
  from public.identity_private_keys p
  join public.identities i on i.user_id = p.user_id
  where p.user_id = (select private.caller_id())
$$;
comment on function public.get_identity() is
  'API: the caller''s identity with its wrapped private keys; no row before create_identity. SECURITY INVOKER; RLS applies.';
revoke execute on function public.get_identity() from public, anon;
grant execute on function public.get_identity() to authenticated;

create function public.list_key_grants(vault_id uuid, min_generation bigint default 1)
returns table (vault_id uuid, key_generation bigint, recipient_id uuid, sender_id uuid, ephemeral_public_key text,
               nonce text, sealed_key text, signature text, sender_signing_public_key text,
               sender_encryption_public_key text, sender_signature text)
language sql stable
set search_path = ''
as $$
  select g.vault_id, g.key_generation, g.recipient_id, g.sender_id, g.ephemeral_public_key, g.nonce, g.sealed_key,
         g.signature, s.signing_public_key, s.encryption_public_key, s.signature
  from public.vault_key_grants g
  left join public.identities s on s.user_id = g.sender_id
  where g.vault_id = list_key_grants.vault_id and g.key_generation >= list_key_grants.min_generation
    and g.recipient_id = (select private.caller_id())
  order by g.key_generation
$$;
comment on function public.list_key_grants(uuid, bigint) is
  'API: the caller''s key grants of a vault from min_generation on, with each sender''s published identity (to check the signature). SECURITY INVOKER; RLS applies (members only).';
revoke execute on function public.list_key_grants(uuid, bigint) from public, anon;
grant execute on function public.list_key_grants(uuid, bigint) to authenticated;

reset lock_timeout;
