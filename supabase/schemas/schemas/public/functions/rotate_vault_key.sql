create or replace function public.rotate_vault_key (
  vault_id            uuid,
  replaces_generation bigint,
  grants              jsonb,
  owner_key           jsonb  default null::jsonb
)
  returns jsonb
  language plpgsql
  security definer
  set search_path to ''
  AS $function$
declare
  uid uuid := private.caller_id();
  caller_role text;
  current_generation bigint;
  grant_count int;
begin
  perform private.require_vault_role(rotate_vault_key.vault_id, 'admin');
  perform private.require_arg('replaces_generation', rotate_vault_key.replaces_generation);
  grant_count := private.check_grants('grants', rotate_vault_key.grants, true, false);
  if rotate_vault_key.owner_key is not null then
    if jsonb_typeof(rotate_vault_key.owner_key) <> 'object' then
      raise exception using errcode = 'PT400', message = 'owner_key must be an object', detail = 'owner_key';
    end if;
    perform private.check_vault_key(rotate_vault_key.owner_key ->> 'encrypted_vault_key',
      rotate_vault_key.owner_key ->> 'salt', rotate_vault_key.owner_key ->> 'nonce');
  end if;

  select v.key_generation into current_generation from public.vaults v where v.id = rotate_vault_key.vault_id for update;
  caller_role := private.require_vault_role(rotate_vault_key.vault_id, 'admin');  -- again, under the lock
  if rotate_vault_key.owner_key is not null and caller_role <> 'owner' then
    raise exception using errcode = 'PT403', message = 'only the owner re-wraps the owner''s key', detail = 'owner_key';
  end if;
  if current_generation <> rotate_vault_key.replaces_generation then
    raise exception using errcode = 'PT409',
      message = format('the vault''s key generation is %s, not %s', current_generation, rotate_vault_key.replaces_generation),
      detail = 'replaces_generation', hint = 'generation_changed';
  end if;

  if grant_count <> (select count(distinct (e ->> 'recipient_id')::uuid) from jsonb_array_elements(rotate_vault_key.grants) e)
     or exists (select from public.vault_members m where m.vault_id = rotate_vault_key.vault_id
                  and m.user_id not in (select (e ->> 'recipient_id')::uuid from jsonb_array_elements(rotate_vault_key.grants) e))
     or exists (select from jsonb_array_elements(rotate_vault_key.grants) e
                where not exists (select from public.vault_members m
                                  where m.vault_id = rotate_vault_key.vault_id and m.user_id = (e ->> 'recipient_id')::uuid)) then
    raise exception using errcode = 'PT409', message = 'grants must name every current member exactly once, and nobody else',
      detail = 'grants', hint = 'members_changed';
  end if;

  insert into public.vault_key_grants (vault_id, key_generation, recipient_id, sender_id, ephemeral_public_key, nonce,
                                       sealed_key, signature)
  select rotate_vault_key.vault_id, current_generation + 1, (e ->> 'recipient_id')::uuid, uid,
         e ->> 'ephemeral_public_key', e ->> 'nonce', e ->> 'sealed_key', e ->> 'signature'
  from jsonb_array_elements(rotate_vault_key.grants) e;
  update public.vaults v set key_generation = current_generation + 1, key_rotation_due = false
  where v.id = rotate_vault_key.vault_id;
  update public.vault_invitations i set status = 'void'
  where i.vault_id = rotate_vault_key.vault_id and i.status = 'pending';
  update public.vault_invite_links l set void = true
  where l.vault_id = rotate_vault_key.vault_id and not l.void;
  if rotate_vault_key.owner_key is not null then
    update public.vault_keys k
    set encrypted_vault_key = rotate_vault_key.owner_key ->> 'encrypted_vault_key',
        salt = rotate_vault_key.owner_key ->> 'salt', nonce = rotate_vault_key.owner_key ->> 'nonce',
        key_generation = current_generation + 1,
        updated_at = greatest(date_trunc('milliseconds', now()), k.updated_at + interval '1 millisecond')
    where k.vault_id = rotate_vault_key.vault_id and k.user_id = uid;
  end if;
  return jsonb_build_object('key_generation', current_generation + 1);
end
$function$;

comment on function "public"."rotate_vault_key"(uuid, bigint, jsonb, jsonb) is 'API: stores generation replaces_generation + 1 of the vault key (grants for exactly the current members, optionally the owner''s re-wrapped copy), voiding older invitations and links; PT409 generation_changed / members_changed. SECURITY DEFINER because the tables have no write grants; access through private.require_vault_role (admins and the owner).';

revoke all on function "public"."rotate_vault_key"(uuid, bigint, jsonb, jsonb) from public;

grant execute on function "public"."rotate_vault_key"(uuid, bigint, jsonb, jsonb) to "authenticated", "postgres", "service_role";
