-- The access helpers of shared vaults: the ONE place that decides who may do what with a vault.
-- Every policy and function (push, pull, compact, keys, list, delete, the Realtime topic policy and
-- the sharing functions) asks them. They read the caller through (select private.caller_id()) only,
-- so a check about the caller (issue 19: a live session) reaches every access decision.
--
-- SECURITY DEFINER: they read public.vault_members, whose own policy calls them (a policy querying
-- its own table through RLS would recurse). Each reads only the caller's own membership rows.

set lock_timeout = '1s'; -- new objects; the foreign keys lock the referenced tables briefly

create function private.role_rank(role text) returns int
language sql immutable
set search_path = ''
as $$
  select case role when 'owner' then 4 when 'admin' then 3 when 'writer' then 2 when 'reader' then 1 else 0 end
$$;
comment on function private.role_rank(text) is 'Order of the roles: owner 4 > admin 3 > writer 2 > reader 1; anything else 0.';
revoke execute on function private.role_rank(text) from public, anon, authenticated;

create function private.vault_role(p_vault_id uuid) returns text
language plpgsql stable
security definer -- reads vault_members, whose policy calls the helpers (no recursion through RLS)
set search_path = ''
as $$
begin
  -- plpgsql keeps this plan for the session (see member_vault_ids below)
  return (select m.role from public.vault_members m
          where m.vault_id = p_vault_id and m.user_id = (select private.caller_id()));
end
$$;
comment on function private.vault_role(uuid) is
  'The caller''s role in a vault, or null for a non-member (and for no such vault).';
revoke execute on function private.vault_role(uuid) from public, anon;
grant execute on function private.vault_role(uuid) to authenticated;

-- For policies: `vault_id in (select private.member_vault_ids())` is an uncorrelated subplan,
-- evaluated once per statement and hashed, so a page of logs pays one index lookup, not one per row.
-- plpgsql, not sql: a SECURITY DEFINER sql function is never inlined and plans its body on every
-- call, while plpgsql keeps its plan for the session (a pull evaluates this three times: measured
-- ~1 ms per pull page less through PostgREST's pooled connections).
create function private.member_vault_ids() returns setof uuid
language plpgsql stable
rows 10
security definer -- reads vault_members, whose policy calls the helpers (no recursion through RLS)
set search_path = ''
as $$
begin
  return query select m.vault_id from public.vault_members m where m.user_id = (select private.caller_id());
end
$$;
comment on function private.member_vault_ids() is 'The ids of the vaults the caller is a member of (any role).';
revoke execute on function private.member_vault_ids() from public, anon;
grant execute on function private.member_vault_ids() to authenticated;

-- For functions: the caller's role if it is at least p_min_role; PT404 for a non-member (a vault
-- the caller may not see does not exist for them), PT403 `forbidden` for a member below p_min_role.
create function private.require_vault_role(p_vault_id uuid, p_min_role text) returns text
language plpgsql stable
security definer -- reads vault_members (see private.vault_role)
set search_path = ''
as $$
declare
  found_role text;
begin
  if p_vault_id is null then
    raise exception using errcode = 'PT400', message = 'vault_id must not be null', detail = 'vault_id';
  end if;
  if (select private.caller_id()) is null then
    raise exception using errcode = 'PT401', message = 'a signed-in user is required', detail = 'authorization';
  end if;
  found_role := private.vault_role(p_vault_id);
  if found_role is null then
    raise exception using errcode = 'PT404', message = 'vault not found', detail = 'vault_id';
  end if;
  if private.role_rank(found_role) < private.role_rank(p_min_role) then
    raise exception using errcode = 'PT403', message = format('a %s of this vault may not do this', found_role),
      detail = 'vault_id';
  end if;
  return found_role;
end
$$;
comment on function private.require_vault_role(uuid, text) is
  'The caller''s role in the vault if at least p_min_role; else PT404 (not a member) or PT403 (role too low).';
revoke execute on function private.require_vault_role(uuid, text) from public, anon, authenticated;

-- For the Realtime topic policy: may the caller receive `vault:<uuid>`?
create function private.can_receive_vault_topic(topic text) returns boolean
language sql stable
security definer -- reads vault_members (see private.vault_role)
set search_path = ''
as $$
  -- CASE: the cast runs only on a topic that is a uuid (AND does not promise an order).
  select case when topic ~ '^vault:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
    then exists (select 1 from public.vault_members m
                 where m.vault_id = substr(topic, 7)::uuid and m.user_id = (select private.caller_id()))
    else false end
$$;
comment on function private.can_receive_vault_topic(text) is
  'True when topic is vault:<id> (lower-case uuid) of a vault the caller is a member of.';
revoke execute on function private.can_receive_vault_topic(text) from public, anon;
grant execute on function private.can_receive_vault_topic(text) to authenticated;

reset lock_timeout;
