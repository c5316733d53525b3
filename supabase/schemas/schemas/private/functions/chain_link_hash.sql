create or replace function private.chain_link_hash (
  body      text,
  signature text
)
  returns text
  language sql
  immutable
  set search_path to ''
  AS $function$
  -- hex SHA-256 of UTF-8 ("haex-sync/chain-link/v1" 0x00 body 0x00 signature); 0x00 cannot occur in either
  select encode(sha256(convert_to('haex-sync/chain-link/v1', 'UTF8') || '\x00'::bytea || convert_to(body, 'UTF8')
                       || '\x00'::bytea || convert_to(signature, 'UTF8')), 'hex')
$function$;

comment on function "private"."chain_link_hash"(text, text) is 'The hash a chain link''s successor names as prev (clients compute the same: client/src/sharing/chain.ts).';

revoke all on function "private"."chain_link_hash"(text, text) from public;

grant execute on function "private"."chain_link_hash"(text, text) to "postgres";
