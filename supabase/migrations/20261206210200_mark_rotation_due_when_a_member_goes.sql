-- Any member leaving a vault marks its key rotation due (issue 24 item 4): remove_member and
-- leave_vault set key_rotation_due themselves, but an account's deletion dropped its memberships
-- through the foreign key's cascade without it, so nobody rotated the key the deleted user held.
--
-- An AFTER DELETE row trigger on vault_members covers every path (the functions, the cascade from
-- auth.users). A vault's own deletion cascades here too: its row is gone, the update finds nothing.
-- The owner's row goes only with the vault (the owner is never removed; their account's deletion
-- deletes their vaults).

set lock_timeout = '1s'; -- a trigger takes SHARE ROW EXCLUSIVE on vault_members for an instant

create function private.mark_rotation_due() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  update public.vaults v set key_rotation_due = true where v.id = old.vault_id and not v.key_rotation_due;
  return null;
end
$$;
comment on function private.mark_rotation_due() is
  'Trigger: a member''s row is gone (removed, left, account deleted): the vault''s key rotation is due.  Runs as the deleting role: the owner of the sharing functions, or (a cascade) the table''s owner.';
revoke execute on function private.mark_rotation_due() from public, anon, authenticated;

create trigger mark_rotation_due
  after delete on public.vault_members
  for each row execute function private.mark_rotation_due();

reset lock_timeout;
