create or replace function private.vault_object_fits_quota (
  object_name    text,
  declared_bytes bigint
)
  returns boolean
  language sql
  stable
  security definer
  set search_path to ''
  AS $function$
  -- For the INSERT policy on storage.objects: Storage's RLS probe carries the upload's declared size
  -- (metadata.contentLength) before any byte is stored. Without one, the largest object the bucket
  -- takes (17 MiB) is assumed.
  select coalesce(q.quota is null or private.vault_used_bytes(q.id) + coalesce(declared_bytes, 17825792) <= q.quota, false)
  from (select x.id, private.vault_quota(x.id) as quota from (select private.vault_of_object(object_name) as id) x) q
$function$;

comment on function "private"."vault_object_fits_quota"(text, bigint) is 'True when an object of declared_bytes (null: the bucket''s largest) fits its vault''s quota; the INSERT policy of vault-files asks it, so no upload passes the quota, through the client or not.';

revoke all on function "private"."vault_object_fits_quota"(text, bigint) from public;

grant execute on function "private"."vault_object_fits_quota"(text, bigint) to "authenticated", "postgres";
