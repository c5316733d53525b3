create or replace function public.store_own_grants (
  vault_id uuid,
  grants   jsonb
)
  returns void
  language plpgsql
  security definer
  set search_path to ''
  AS $function$
declare
  uid uuid := private.caller_id();
  current_generation bigint;
begin
  perform private.require_vault_role(store_own_grants.vault_id, 'reader');
  perform private.check_grants('grants', store_own_grants.grants, false, true);
  select v.key_generation into current_generation from public.vaults v where v.id = store_own_grants.vault_id;
  if exists (select from jsonb_array_elements(store_own_grants.grants) e
             where (e ->> 'key_generation')::bigint > current_generation) then
    raise exception using errcode = 'PT400', message = 'grants[].key_generation must not exceed the vault''s key generation',
      detail = 'grants';
  end if;
  insert into public.vault_key_grants (vault_id, key_generation, recipient_id, sender_id, ephemeral_public_key, nonce,
                                       sealed_key, signature)
  select store_own_grants.vault_id, (e ->> 'key_generation')::bigint, uid, uid, e ->> 'ephemeral_public_key',
         e ->> 'nonce', e ->> 'sealed_key', e ->> 'signature'
  from jsonb_array_elements(store_own_grants.grants) e
  on conflict do nothing;
end
$function$;

comment on function "public"."store_own_grants"(uuid, jsonb) is 'API: a member stores key grants sealed to itself (e.g. after claiming an invite link); existing grants are kept. SECURITY DEFINER because vault_key_grants has no write grants; membership through private.require_vault_role.';

revoke all on function "public"."store_own_grants"(uuid, jsonb) from public;

grant execute on function "public"."store_own_grants"(uuid, jsonb) to "authenticated", "postgres", "service_role";
