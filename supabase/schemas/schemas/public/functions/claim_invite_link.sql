create or replace function public.claim_invite_link (
  token text
)
  returns jsonb
  language plpgsql
  security definer
  set search_path to ''
  AS $function$
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
  -- The link row's lock serializes its claims: a second claim (another user's, or the same user's
  -- twice at once) reads the row and the membership only after the first committed.
  select l.* into link from public.vault_invite_links l where l.token_hash = hash for update;

  member_role := (select m.role from public.vault_members m where m.vault_id = target and m.user_id = uid);
  if member_role is null then
    if link.void or link.used >= link.max_uses or link.expires_at <= now()
       -- the creator's right to invite, under the lock (removing or demoting them voids their links)
       or not private.may_still_invite(target, link.created_by, link.role, link.created_at)
       -- a removed user returns only through a link made after the removal
       or private.removed_since(target, uid, link.created_at) then
      raise exception using errcode = 'PT409', message = 'this invite link is used up, expired or void',
        detail = 'token', hint = 'invitation_closed';
    end if;
    update public.vault_invite_links l set used = l.used + 1 where l.id = link.id;
    insert into public.vault_members (vault_id, user_id, role, added_by) values (target, uid, link.role, link.created_by);
    member_role := link.role;
  end if;
  return jsonb_build_object('vault_id', target, 'role', member_role, 'key_generation', link.key_generation,
    'grants', link.grants, 'inviter_id', link.created_by);
end
$function$;

comment on function "public"."claim_invite_link"(text) is 'API: joins the vault of an invite link, consuming one use under the link row''s lock (PT409 invitation_closed when used up, expired, void, its creator may no longer invite, or the caller was removed after it was made; PT404 unknown); a member claiming again gets the same answer. Answers the sealed grants for the link''s secret. SECURITY DEFINER because the tables have no write grants.';

revoke all on function "public"."claim_invite_link"(text) from public;

grant execute on function "public"."claim_invite_link"(text) to "authenticated", "postgres", "service_role";
