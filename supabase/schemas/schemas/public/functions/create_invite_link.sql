create or replace function public.create_invite_link (
  vault_id           uuid,
  token              text,
  role               text,
  key_generation     bigint,
  grants             jsonb,
  max_uses           integer default 1,
  expires_in_seconds integer default 604800
)
  returns jsonb
  language plpgsql
  security definer
  set search_path to ''
  AS $function$
declare
  uid uuid := private.caller_id();
  caller_role text := private.require_vault_role(create_invite_link.vault_id, 'admin');
  current_generation bigint;
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
  -- Again under the lock: a removal or demotion of the caller that committed meanwhile ends here.
  caller_role := private.require_vault_role(create_invite_link.vault_id, 'admin');
  if create_invite_link.role = 'admin' and caller_role <> 'owner' then
    raise exception using errcode = 'PT403', message = 'only the owner invites admins', detail = 'role';
  end if;
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
$function$;

comment on function "public"."create_invite_link"(uuid, text, text, bigint, jsonb, integer, integer) is 'API: an invite link (admins and the owner) with max_uses and expiry; the server keeps the token''s SHA-256 only. SECURITY DEFINER because vault_invite_links has no grants; access through private.require_vault_role.';

revoke all on function "public"."create_invite_link"(uuid, text, text, bigint, jsonb, integer, integer) from public;

grant execute on function "public"."create_invite_link"(uuid, text, text, bigint, jsonb, integer, integer) to "authenticated", "postgres", "service_role";
