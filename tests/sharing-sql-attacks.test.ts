/**
 * Removal is final, and role checks hold under the vault lock (issue 24 items 2 to 4), attacked
 * through PostgREST as the users themselves would: a removed member's old link and old invitation,
 * a demoted or removed admin's invitations and links, an invitation racing its inviter's removal
 * (the interleaving forced by holding the vault's lock), the same user claiming a link twice at once,
 * and a writer's far-future timestamp against another author's record in compaction.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { entry, expectError } from './support/sql-fixtures.ts';
import { grantFor, invite, join, newMember, sharedVault, whileWaiting } from './support/sharing-fixtures.ts';
import { adminSql, rpc } from './support/stack.ts';
import type { StackUser } from '../stack/users.ts';

const token = () => randomBytes(16).toString('base64url');
const hinted = (res: { status: number; body: any }) => [res.status, res.body?.code, res.body?.hint];
const createLink = async (by: StackUser, vault_id: string, role = 'reader', max_uses = 5) => {
  const t = token();
  const res = await rpc('create_invite_link', { vault_id, token: t, role, key_generation: 1, grants: [grantFor(1)], max_uses }, by.access_token);
  expect(res.status).toBe(200);
  return t;
};
const claim = (user: StackUser, t: string) => rpc('claim_invite_link', { token: t }, user.access_token);
const isMember = async (vaultId: string, user: StackUser) =>
  (await adminSql()`select count(*)::int as n from public.vault_members where vault_id = ${vaultId} and user_id = ${user.id}`)[0]!.n === 1;
const CLOSED = [409, 'PT409', 'invitation_closed'];

describe('a removed member', () => {
  it('cannot come back through the link they first joined by (any use left)', async () => {
    const owner = await newMember('owner');
    const v = await sharedVault(owner, []);
    const bob = await newMember('bob');
    const t = await createLink(owner, v, 'writer', 5);
    expect((await claim(bob, t)).status).toBe(200);
    expect((await rpc('remove_member', { vault_id: v, user_id: bob.id }, owner.access_token)).status).toBe(204);
    expect(hinted(await claim(bob, t))).toEqual(CLOSED);
    expect(await isMember(v, bob)).toBe(false);
    // others still use the link; a link made after the removal brings bob back
    expect((await claim(await newMember('other'), t)).status).toBe(200);
    expect((await claim(bob, await createLink(owner, v))).status).toBe(200);
  });

  it('cannot come back through an invitation made before the removal', async () => {
    const owner = await newMember('owner');
    const v = await sharedVault(owner, []);
    const bob = await newMember('bob');
    const old = await invite(owner, v, bob, 'writer');
    expect(old.status).toBe(200);
    expect((await claim(bob, await createLink(owner, v))).status).toBe(200); // joined another way meanwhile
    expect((await rpc('remove_member', { vault_id: v, user_id: bob.id }, owner.access_token)).status).toBe(204);
    expect(hinted(await rpc('accept_invitation', { invitation_id: old.body.id }, bob.access_token))).toEqual(CLOSED);
    expect(await isMember(v, bob)).toBe(false);
    await join(owner, v, bob, 'reader'); // a new invitation works
  });

  it('who left cannot come back through an old link either', async () => {
    const owner = await newMember('owner');
    const v = await sharedVault(owner, []);
    const bob = await newMember('bob');
    const t = await createLink(owner, v);
    expect((await claim(bob, t)).status).toBe(200);
    expect((await rpc('leave_vault', { vault_id: v }, bob.access_token)).status).toBe(204);
    expect(hinted(await claim(bob, t))).toEqual(CLOSED);
  });
});

describe('an admin who loses the right to invite', () => {
  for (const [how, change] of [
    ['demoted to writer', (owner: StackUser, v: string, admin: StackUser) => rpc('set_member_role', { vault_id: v, user_id: admin.id, role: 'writer' }, owner.access_token)],
    ['removed', (owner: StackUser, v: string, admin: StackUser) => rpc('remove_member', { vault_id: v, user_id: admin.id }, owner.access_token)],
  ] as const) {
    it(`${how}: their pending invitations and their links are void`, async () => {
      const [owner, admin, dave, erin] = await Promise.all(['owner', 'admin', 'dave', 'erin'].map(newMember)) as StackUser[];
      const v = await sharedVault(owner!, [[admin!, 'admin']]);
      const invited = await invite(admin!, v, dave!, 'reader');
      expect(invited.status).toBe(200);
      const t = await createLink(admin!, v);
      expect((await change(owner!, v, admin!)).status).toBe(204);
      expect(hinted(await rpc('accept_invitation', { invitation_id: invited.body.id }, dave!.access_token))).toEqual(CLOSED);
      expect(hinted(await claim(erin!, t))).toEqual(CLOSED);
      expect([await isMember(v, dave!), await isMember(v, erin!)]).toEqual([false, false]);
    });
  }

  it('an invitation racing its inviter\'s removal: the invite that waited for the lock is refused, none is left', async () => {
    const [owner, admin, guest] = await Promise.all(['owner', 'admin', 'guest'].map(newMember)) as StackUser[];
    const v = await sharedVault(owner!, [[admin!, 'admin']]);
    // invite_member checks the role, then waits for the vault lock; the removal commits meanwhile.
    const [res] = await whileWaiting((tx) => tx`select 1 from public.vaults where id = ${v} for update`, 'invite_member',
      [() => invite(admin!, v, guest!, 'reader')],
      (tx) => tx`select private.drop_member(${v}, ${admin!.id})`);
    expectError(res!, 404, 'PT404');
    const [left] = await adminSql()`select count(*)::int as n from public.vault_invitations where vault_id = ${v} and status = 'pending'`;
    expect(left!.n).toBe(0);
  });

  it('a link made while its creator\'s removal commits: refused the same way', async () => {
    const [owner, admin] = await Promise.all(['owner', 'admin'].map(newMember)) as StackUser[];
    const v = await sharedVault(owner!, [[admin!, 'admin']]);
    const [res] = await whileWaiting((tx) => tx`select 1 from public.vaults where id = ${v} for update`, 'create_invite_link',
      [() => rpc('create_invite_link', { vault_id: v, token: token(), role: 'reader', key_generation: 1, grants: [grantFor(1)] }, admin!.access_token)],
      (tx) => tx`select private.drop_member(${v}, ${admin!.id})`);
    expectError(res!, 404, 'PT404');
  });
});

describe('one user claiming a link twice at once', () => {
  it('joins once: both answers are the same join (never 500), one use consumed', async () => {
    const [owner, bob] = await Promise.all(['owner', 'bob'].map(newMember)) as StackUser[];
    const v = await sharedVault(owner!, []);
    const t = await createLink(owner!, v, 'writer', 5);
    // Both claims pass their first reads, then queue on the link row (held here) and go on together.
    const results = await whileWaiting((tx) => tx`select 1 from public.vault_invite_links where vault_id = ${v} for update`,
      'claim_invite_link', [() => claim(bob!, t), () => claim(bob!, t)]);
    expect(results.map((r) => r.status)).toEqual([200, 200]);
    expect(results[1]!.body).toEqual(results[0]!.body);
    const [row] = await adminSql()`select used::int from public.vault_invite_links where vault_id = ${v}`;
    expect(row!.used).toBe(1);
    expect(await isMember(v, bob!)).toBe(true);
  });
});

describe('compaction and another author\'s record', () => {
  it('a writer\'s far-future timestamp under the owner\'s record key erases nothing of the owner\'s; each author\'s older versions still go', async () => {
    const [owner, writer] = await Promise.all(['owner', 'writer'].map(newMember)) as StackUser[];
    const v = await sharedVault(owner!, [[writer!, 'writer']]);
    const now = Date.now();
    const ts = (ms: number) => `${String(ms).padStart(13, '0')}-0001-00000000`;
    const push = (user: StackUser, record_key: string, at: string) =>
      rpc('push_logs', { vault_id: v, logs: [entry({ record_key, haex_timestamp: at })] }, user.access_token);
    expect((await push(owner!, 'note-1', ts(now))).status).toBe(200);        // 1: superseded by 2
    expect((await push(owner!, 'note-1', ts(now + 1))).status).toBe(200);    // 2: the owner's current version
    expect((await push(writer!, 'note-1', ts(9_999_999_999_999))).status).toBe(200); // 3: junk from the far future
    expect((await rpc('compact_logs', { vault_id: v }, writer!.access_token)).status).toBe(200);
    const left = await adminSql()`select sequence::int from public.sync_logs where vault_id = ${v} order by sequence`;
    expect(left.map((l) => l.sequence)).toEqual([2, 3]);
  });
});

describe('a member\'s account deleted', () => {
  it('leaves the member list and marks the key rotation due (it held the key)', async () => {
    const [owner, writer] = await Promise.all(['owner', 'writer'].map(newMember)) as StackUser[];
    const v = await sharedVault(owner!, [[writer!, 'writer']]);
    const due = async () => (await adminSql()`select key_rotation_due as due from public.vaults where id = ${v}`)[0]!.due;
    expect(await due()).toBe(false);
    await adminSql()`delete from auth.users where id = ${writer!.id}`;
    expect(await isMember(v, writer!)).toBe(false);
    expect(await due()).toBe(true);
  });
});
