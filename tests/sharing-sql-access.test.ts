/**
 * Shared vaults in SQL, through PostgREST with user tokens: roles decide (reader push PT403,
 * stranger PT404), removal and leaving end access at once for a still-valid token, invitations
 * (idempotent accept, decline, expiry, rules of who invites whom), and the access matrix of a
 * stranger against a shared vault.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { StackUser } from '../stack/users.ts';
import { createVault, entry, expectError } from './support/sql-fixtures.ts';
import { grantFor, invite, join, newMember, sharedVault } from './support/sharing-fixtures.ts';
import { adminSql, api, asUser, rpc } from './support/stack.ts';

let owner: StackUser, admin: StackUser, writer: StackUser, reader: StackUser, stranger: StackUser;
let vaultId: string;

beforeAll(async () => {
  [owner, admin, writer, reader, stranger] = await Promise.all(['owner', 'admin', 'writer', 'reader', 'stranger'].map(newMember)) as [StackUser, StackUser, StackUser, StackUser, StackUser];
  vaultId = await sharedVault(owner, [[admin, 'admin'], [writer, 'writer'], [reader, 'reader']]);
  expect((await rpc('push_logs', { vault_id: vaultId, logs: [entry(), entry()] }, owner.access_token)).status).toBe(200);
});

const pull = (user: StackUser, id = vaultId) => rpc('pull_logs', { vault_id: id, after_sequence: 0, max_count: 100 }, user.access_token);
const push = (user: StackUser, logs = [entry()], id = vaultId) => rpc('push_logs', { vault_id: id, logs }, user.access_token);

describe('roles', () => {
  it('every vault has exactly its creator as owner member', async () => {
    const { vault_id } = await createVault(stranger);
    const rows = await adminSql()`select user_id, role from public.vault_members where vault_id = ${vault_id}`;
    expect(rows.map((r) => [r.user_id, r.role])).toEqual([[stranger.id, 'owner']]);
  });

  it('members of every role pull the vault\'s logs, the owner\'s and the writer\'s alike', async () => {
    expect((await push(writer)).status).toBe(200);
    for (const user of [owner, admin, writer, reader]) {
      const res = await pull(user);
      expect(res.status).toBe(200);
      expect(res.body[0].logs.length).toBeGreaterThanOrEqual(3);
    }
    const authors = await adminSql()`select distinct author_id from public.sync_logs where vault_id = ${vaultId}`;
    expect(authors.map((r) => r.author_id).sort()).toEqual([owner.id, writer.id].sort());
  });

  it('a reader\'s push is refused with PT403 and stores nothing; the writer, admin and owner push', async () => {
    const [before] = await adminSql()`select last_sequence::int from public.vaults where id = ${vaultId}`;
    expectError(await push(reader), 403, 'PT403');
    const [after] = await adminSql()`select last_sequence::int from public.vaults where id = ${vaultId}`;
    expect(after!.last_sequence).toBe(before!.last_sequence);
    for (const user of [writer, admin, owner]) expect((await push(user)).status).toBe(200);
  });

  it('a reader cannot compact (PT403); a writer can', async () => {
    expectError(await rpc('compact_logs', { vault_id: vaultId }, reader.access_token), 403, 'PT403');
    expect((await rpc('compact_logs', { vault_id: vaultId }, writer.access_token)).status).toBe(200);
  });

  it('list_vaults shows a shared vault to each member with their role and the key generation', async () => {
    for (const [user, role] of [[owner, 'owner'], [admin, 'admin'], [writer, 'writer'], [reader, 'reader']] as const) {
      const res = await rpc('list_vaults', {}, user.access_token);
      expect(res.body.filter((v: any) => v.vault_id === vaultId).map((v: any) => [v.role, v.key_generation])).toEqual([[role, 1]]);
    }
    expect((await rpc('list_vaults', {}, stranger.access_token)).body.filter((v: any) => v.vault_id === vaultId)).toEqual([]);
  });

  it('members list the members with emails and identities; a stranger gets PT404', async () => {
    const res = await rpc('list_vault_members', { vault_id: vaultId }, reader.access_token);
    expect(res.status).toBe(200);
    expect(res.body.map((m: any) => [m.user_id, m.role])).toEqual(
      [[owner.id, 'owner'], [admin.id, 'admin'], [writer.id, 'writer'], [reader.id, 'reader']]);
    expect(res.body.every((m: any) => m.email && m.signing_public_key.length === 44)).toBe(true);
    expectError(await rpc('list_vault_members', { vault_id: vaultId }, stranger.access_token), 404, 'PT404');
  });

  it('only the owner deletes the vault: an admin gets PT403, a stranger PT404', async () => {
    expectError(await rpc('delete_vault', { vault_id: vaultId }, admin.access_token), 403, 'PT403');
    expectError(await rpc('delete_vault', { vault_id: vaultId }, stranger.access_token), 404, 'PT404');
  });
});

describe('a stranger against a shared vault (nothing read, nothing changed)', () => {
  it('gets PT404 from every function and empty reads from every table', async () => {
    const [before] = await adminSql()`select to_jsonb(v) as v from public.vaults v where id = ${vaultId}`;
    const t = stranger.access_token;
    expectError(await push(stranger), 404, 'PT404');
    expectError(await pull(stranger), 404, 'PT404');
    expectError(await rpc('compact_logs', { vault_id: vaultId }, t), 404, 'PT404');
    expectError(await rpc('remove_member', { vault_id: vaultId, user_id: reader.id }, t), 404, 'PT404');
    expectError(await rpc('set_member_role', { vault_id: vaultId, user_id: reader.id, role: 'writer' }, t), 404, 'PT404');
    expectError(await rpc('leave_vault', { vault_id: vaultId }, t), 404, 'PT404');
    expectError(await rpc('rotate_vault_key', { vault_id: vaultId, replaces_generation: 1, grants: [] }, t), 404, 'PT404');
    expectError(await rpc('store_own_grants', { vault_id: vaultId, grants: [grantFor(1)] }, t), 404, 'PT404');
    expectError(await invite(stranger, vaultId, stranger, 'reader'), 404, 'PT404');
    for (const table of ['vaults', 'sync_logs', 'vault_members', 'vault_key_grants', 'vault_keys']) {
      const column = table === 'vaults' ? 'id' : 'vault_id';
      const res = await api(`/rest/v1/${table}?${column}=eq.${vaultId}`, { token: t });
      expect([table, res.status, res.body]).toEqual([table, 200, []]);
    }
    for (const table of ['vault_invitations', 'vault_invite_links']) {
      expect((await api(`/rest/v1/${table}`, { token: t })).status).toBe(403);
    }
    const [after] = await adminSql()`select to_jsonb(v) as v from public.vaults v where id = ${vaultId}`;
    expect(after).toEqual(before);
  });

  it('cannot receive the vault\'s Realtime topic; members can', async () => {
    const topic = `vault:${vaultId}`;
    const may = (user: StackUser) => asUser(user, async (sql) =>
      (await sql`select private.can_receive_vault_topic(${topic}) as ok`)[0]!.ok);
    expect(await Promise.all([owner, reader, stranger].map(may))).toEqual([true, true, false]);
  });
});

describe('who invites and changes whom', () => {
  it('a reader and a writer cannot invite (PT403); an admin cannot invite an admin (PT403); the owner can', async () => {
    const newcomer = await newMember('newcomer');
    expectError(await invite(reader, vaultId, newcomer, 'reader'), 403, 'PT403');
    expectError(await invite(writer, vaultId, newcomer, 'reader'), 403, 'PT403');
    expectError(await invite(admin, vaultId, newcomer, 'admin'), 403, 'PT403');
    expect((await invite(admin, vaultId, newcomer, 'writer')).status).toBe(200);
    expect((await invite(owner, vaultId, newcomer, 'admin')).status).toBe(200);
    // the second invitation replaced the first: one pending
    expect((await rpc('list_invitations', {}, newcomer.access_token)).body.map((i: any) => i.role)).toEqual(['admin']);
  });

  it('an invitation for a stale key generation is PT409 stale_key_generation; for a member PT409 already_member', async () => {
    const res = await invite(owner, vaultId, await newMember('late'), 'reader', 2);
    expect([res.status, res.body.code, res.body.hint]).toEqual([409, 'PT409', 'stale_key_generation']);
    const again = await invite(owner, vaultId, writer, 'reader');
    expect([again.status, again.body.hint]).toEqual([409, 'already_member']);
  });

  it('an admin changes writers and readers but not admins or the owner, and gives no admin role', async () => {
    const v = await sharedVault(owner, [[admin, 'admin'], [writer, 'writer'], [reader, 'reader']]);
    const set = (by: StackUser, who: StackUser, role: string) =>
      rpc('set_member_role', { vault_id: v, user_id: who.id, role }, by.access_token);
    expect((await set(admin, writer, 'reader')).status).toBe(204);
    expectError(await push(writer, [entry()], v), 403, 'PT403'); // demoted: at once
    expectError(await set(admin, reader, 'admin'), 403, 'PT403');
    expectError(await set(admin, owner, 'reader'), 403, 'PT403');
    expectError(await set(writer, reader, 'writer'), 403, 'PT403');
    expectError(await set(owner, owner, 'admin'), 403, 'PT403');
    expect((await set(owner, admin, 'reader')).status).toBe(204);
    expectError(await set(owner, reader, 'owner'), 400, 'PT400');
  });
});

describe('invitations', () => {
  it('lists the inviter\'s email and identity; accepting twice gives the same answer and one membership', async () => {
    const [o, guest] = await Promise.all([newMember('o'), newMember('guest')]);
    const { vault_id } = await createVault(o);
    const invited = await invite(o, vault_id, guest, 'writer');
    const [listed] = (await rpc('list_invitations', {}, guest.access_token)).body;
    expect({ id: listed.id, vault: listed.vault_id, role: listed.role, from: listed.inviter_id, email: listed.inviter_email })
      .toEqual({ id: invited.body.id, vault: vault_id, role: 'writer', from: o.id, email: o.email });
    expect(new Date(listed.expires_at).getTime() - Date.now()).toBeGreaterThan(6.9 * 86400_000);
    const first = await rpc('accept_invitation', { invitation_id: invited.body.id }, guest.access_token);
    const second = await rpc('accept_invitation', { invitation_id: invited.body.id }, guest.access_token);
    expect(second.body).toEqual(first.body);
    expect(first.body).toEqual({ vault_id, role: 'writer', key_generation: 1 });
    const grants = await api(`/rest/v1/vault_key_grants?vault_id=eq.${vault_id}`, { token: guest.access_token });
    expect(grants.body.map((g: any) => [g.recipient_id, g.sender_id, g.key_generation])).toEqual([[guest.id, o.id, 1]]);
    expect((await rpc('list_invitations', {}, guest.access_token)).body).toEqual([]);
  });

  it('only the invitee accepts (others PT404); a declined invitation cannot be accepted (PT409 invitation_closed)', async () => {
    const [o, guest] = await Promise.all([newMember('o'), newMember('guest')]);
    const { vault_id } = await createVault(o);
    const invited = await invite(o, vault_id, guest, 'reader');
    expectError(await rpc('accept_invitation', { invitation_id: invited.body.id }, o.access_token), 404, 'PT404');
    expect((await rpc('decline_invitation', { invitation_id: invited.body.id }, guest.access_token)).status).toBe(204);
    const res = await rpc('accept_invitation', { invitation_id: invited.body.id }, guest.access_token);
    expect([res.status, res.body.hint]).toEqual([409, 'invitation_closed']);
    expectError(await pull(guest, vault_id), 404, 'PT404');
  });

  it('an expired invitation is not listed and cannot be accepted (PT409 invitation_expired)', async () => {
    const [o, guest] = await Promise.all([newMember('o'), newMember('guest')]);
    const { vault_id } = await createVault(o);
    const invited = await invite(o, vault_id, guest, 'reader');
    await adminSql()`update public.vault_invitations set expires_at = now() - interval '1 second' where id = ${invited.body.id}`;
    expect((await rpc('list_invitations', {}, guest.access_token)).body).toEqual([]);
    const res = await rpc('accept_invitation', { invitation_id: invited.body.id }, guest.access_token);
    expect([res.status, res.body.hint]).toEqual([409, 'invitation_expired']);
  });
});

describe('removal and leaving end access at once', () => {
  it('a removed member\'s still-valid token gets PT404 on the next push and pull, and loses the topic and grants', async () => {
    const [o, gone, stays] = await Promise.all([newMember('o'), newMember('gone'), newMember('stays')]);
    const v = await sharedVault(o, [[gone, 'writer'], [stays, 'reader']]);
    expect((await pull(gone, v)).status).toBe(200);
    expect((await rpc('remove_member', { vault_id: v, user_id: gone.id }, o.access_token)).status).toBe(204);
    expectError(await pull(gone, v), 404, 'PT404');
    expectError(await push(gone, [entry()], v), 404, 'PT404');
    expect((await api(`/rest/v1/vault_key_grants?vault_id=eq.${v}`, { token: gone.access_token })).body).toEqual([]);
    expect(await asUser(gone, async (sql) => (await sql`select private.can_receive_vault_topic(${`vault:${v}`}) as ok`)[0]!.ok)).toBe(false);
    const [row] = await adminSql()`select key_rotation_due from public.vaults where id = ${v}`;
    expect(row!.key_rotation_due).toBe(true);
    expect((await pull(stays, v)).status).toBe(200);
  });

  it('a writer leaves (PT404 afterwards); the owner cannot leave (PT403); nobody removes the owner', async () => {
    const [o, a, w] = await Promise.all([newMember('o'), newMember('a'), newMember('w')]);
    const v = await sharedVault(o, [[a, 'admin'], [w, 'writer']]);
    expectError(await rpc('remove_member', { vault_id: v, user_id: o.id }, a.access_token), 403, 'PT403');
    expectError(await rpc('leave_vault', { vault_id: v }, o.access_token), 403, 'PT403');
    expect((await rpc('leave_vault', { vault_id: v }, w.access_token)).status).toBe(204);
    expectError(await pull(w, v), 404, 'PT404');
    expectError(await rpc('leave_vault', { vault_id: v }, w.access_token), 404, 'PT404');
  });

  it('a writer\'s deleted account leaves its logs in the shared vault (author NULL), gap-free', async () => {
    const [o, w] = await Promise.all([newMember('o'), newMember('w')]);
    const v = await sharedVault(o, [[w, 'writer']]);
    for (const user of [o, w, o]) expect((await push(user, [entry()], v)).status).toBe(200);
    await adminSql()`delete from auth.users where id = ${w.id}`;
    const page = await pull(o, v);
    expect(page.body[0].logs.map((l: any) => [l.sequence, l.author_id])).toEqual([[1, o.id], [2, null], [3, o.id]]);
    expect((await rpc('list_vault_members', { vault_id: v }, o.access_token)).body.map((m: any) => m.user_id)).toEqual([o.id]);
  });

  it('an admin removes a writer but not another admin (PT403)', async () => {
    const [o, a1, a2, w] = await Promise.all([newMember('o'), newMember('a1'), newMember('a2'), newMember('w')]);
    const v = await sharedVault(o, [[a1, 'admin'], [a2, 'admin'], [w, 'writer']]);
    expectError(await rpc('remove_member', { vault_id: v, user_id: a2.id }, a1.access_token), 403, 'PT403');
    expect((await rpc('remove_member', { vault_id: v, user_id: w.id }, a1.access_token)).status).toBe(204);
    expectError(await rpc('remove_member', { vault_id: v, user_id: randomUUID() }, a1.access_token), 404, 'PT404');
  });
});
