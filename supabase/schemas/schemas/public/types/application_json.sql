create domain "public"."application/json" as text;

comment on domain "public"."application/json" is 'PostgREST 12 media-type handler: a function returning this domain answers Accept: application/json with its text as the body, unparsed (no json_agg around it). A domain over text validates nothing: only server-built JSON may be returned through it (public.pull_page builds its page from sync_logs.wire, which private.log_wire wrote).';
