create or replace function public.list_vault_members (
  vault_id uuid
)
  returns table (
    user_id               uuid,
    email                 text,
    role                  text,
    encryption_public_key text,
    signing_public_key    text,
    signature             text,
    created_at            timestamp with time zone
  )
  language sql
  stable
  security definer
  set search_path to ''
  AS $function$
  select m.user_id, u.email::text, m.role, k.encryption_public_key, k.signing_public_key, k.signature, m.created_at
  -- OFFSET 0: the access check runs once, before any row, and raises for a non-member.
  from (select private.require_vault_role(list_vault_members.vault_id, 'reader') as caller_role offset 0) as r
  join public.vault_members m on m.vault_id = list_vault_members.vault_id
  join auth.users u on u.id = m.user_id
  left join public.identities k on k.user_id = m.user_id
  -- Referenced, so the planner keeps the call (an unused output of a stable call would be dropped).
  where r.caller_role is not null
  order by private.role_rank(m.role) desc, m.created_at, m.user_id
$function$;

comment on function "public"."list_vault_members"(uuid) is 'API: the members of a vault the caller is a member of, with email, role and identity; PT404 for a non-member. SECURITY DEFINER to read auth.users.';

revoke all on function "public"."list_vault_members"(uuid) from public;

grant execute on function "public"."list_vault_members"(uuid) to "authenticated", "postgres", "service_role";
