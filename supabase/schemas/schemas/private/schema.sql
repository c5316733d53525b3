create schema "private";

comment on schema "private" is 'haex-sync internals (limits, error helpers). Not exposed by PostgREST; not usable by anon.';

grant usage on schema "private" to "anon", "authenticated";

grant create, usage on schema "private" to "postgres";

grant usage on schema "private" to "service_role";
