create policy "Members can receive their vault broadcasts" on "realtime"."messages"
  for select
  to "authenticated"
  using (((extension = 'broadcast'::text) AND ( select private.can_receive_vault_topic(realtime.topic()) as can_receive_vault_topic)));

create policy "Nobody can send on vault topics" on "realtime"."messages"
  as restrictive
  for insert
  to "anon", "authenticated"
  with check (((( SELECT realtime.topic() AS topic) !~~ 'vault:%'::text) AND (topic !~~ 'vault:%'::text)));
