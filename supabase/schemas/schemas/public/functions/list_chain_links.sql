create or replace function public.list_chain_links (
  vault_id  uuid,
  after_seq bigint default '-1'::integer
)
  returns table (
    seq       bigint,
    body      text,
    signature text,
    hash      text
  )
  language sql
  stable
  set search_path to ''
  AS $function$
  select l.seq, l.body, l.signature, l.hash from public.vault_chain_links l
  where l.vault_id = list_chain_links.vault_id and l.seq > list_chain_links.after_seq
  order by l.seq
$function$;

comment on function "public"."list_chain_links"(uuid, bigint) is 'API: the links of a vault''s chain after after_seq, in order (none for a non-member). SECURITY INVOKER; RLS applies (members only).';

revoke all on function "public"."list_chain_links"(uuid, bigint) from public;

grant execute on function "public"."list_chain_links"(uuid, bigint) to "authenticated", "postgres", "service_role";
