/**
 * Key generations and the races of sharing, proven with real concurrent clients through PostgREST:
 * rotate_vault_key (exact member coverage, concurrent rotations: one wins with 409 for the rest),
 * pushes under an older generation refused, invitations and links of the old generation void,
 * two concurrent accepts of one invitation, concurrent claims of an invite link's last uses.
 */
import { createHash, randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { StackUser } from '../stack/users.ts';
import { entry, expectError } from './support/sql-fixtures.ts';
import { grantFor, invite, newMember, rotationGrant, sharedVault, waitForLockWaiters } from './support/sharing-fixtures.ts';
import { adminSql, api, rpc } from './support/stack.ts';

let owner: StackUser, admin: StackUser, writer: StackUser, stranger: StackUser;
beforeAll(async () => {
  [owner, admin, writer, stranger] = await Promise.all(['owner', 'admin', 'writer', 'stranger'].map(newMember)) as [StackUser, StackUser, StackUser, StackUser];
});

const rotate = (by: StackUser, vault_id: string, replaces: number, members: StackUser[]) =>
  rpc('rotate_vault_key', { vault_id, replaces_generation: replaces, grants: members.map((m) => rotationGrant(m.id)) }, by.access_token);
const push = (user: StackUser, vault_id: string, key_generation?: number) =>
  rpc('push_logs', { vault_id, logs: [entry(key_generation === undefined ? {} : { key_generation })] }, user.access_token);
const hinted = (res: { status: number; body: any }) => [res.status, res.body?.code, res.body?.hint];
const token = () => randomBytes(16).toString('base64url');

describe('rotate_vault_key', () => {
  it('stores the new generation for exactly the members; older pushes get PT409 stale_key_generation', async () => {
    const v = await sharedVault(owner, [[admin, 'admin'], [writer, 'writer']]);
    expect((await push(writer, v)).status).toBe(200); // no key_generation: 1
    const res = await rotate(admin, v, 1, [owner, admin, writer]);
    expect([res.status, res.body]).toEqual([200, { key_generation: 2 }]);
    expect(hinted(await push(writer, v))).toEqual([409, 'PT409', 'stale_key_generation']);
    expect(hinted(await push(writer, v, 1))).toEqual([409, 'PT409', 'stale_key_generation']);
    expect(hinted(await push(writer, v, 3))).toEqual([409, 'PT409', 'stale_key_generation']);
    expect((await push(writer, v, 2)).status).toBe(200);
    const logs = await adminSql()`select key_generation::int from public.sync_logs where vault_id = ${v} order by sequence`;
    expect(logs.map((l) => l.key_generation)).toEqual([1, 2]);
    const grants = await api(`/rest/v1/vault_key_grants?vault_id=eq.${v}&order=key_generation`, { token: writer.access_token });
    expect(grants.body.map((g: any) => [g.key_generation, g.sender_id])).toEqual([[1, owner.id], [2, admin.id]]);
  });

  it('refuses grants that leave out a member, add a stranger, or name someone twice (PT409 members_changed)', async () => {
    const v = await sharedVault(owner, [[admin, 'admin'], [writer, 'writer']]);
    expect(hinted(await rotate(owner, v, 1, [owner, admin]))).toEqual([409, 'PT409', 'members_changed']);
    expect(hinted(await rotate(owner, v, 1, [owner, admin, writer, stranger]))).toEqual([409, 'PT409', 'members_changed']);
    expect(hinted(await rotate(owner, v, 1, [owner, admin, writer, writer]))).toEqual([409, 'PT409', 'members_changed']);
    expect(hinted(await rotate(owner, v, 1, [owner, admin, stranger]))).toEqual([409, 'PT409', 'members_changed']);
    const [row] = await adminSql()`select key_generation::int from public.vaults where id = ${v}`;
    expect(row!.key_generation).toBe(1);
    expect((await adminSql()`select count(*)::int as n from public.vault_key_grants where vault_id = ${v} and key_generation = 2`)[0]!.n).toBe(0);
  });

  it('writers and readers cannot rotate (PT403); an admin cannot re-wrap the owner\'s key (PT403)', async () => {
    const v = await sharedVault(owner, [[admin, 'admin'], [writer, 'writer']]);
    expectError(await rotate(writer, v, 1, [owner, admin, writer]), 403, 'PT403');
    const res = await rpc('rotate_vault_key', { vault_id: v, replaces_generation: 1,
      grants: [owner, admin, writer].map((m) => rotationGrant(m.id)),
      owner_key: { encrypted_vault_key: randomBytes(60).toString('base64'), salt: randomBytes(16).toString('base64'), nonce: randomBytes(12).toString('base64') } },
    admin.access_token);
    expectError(res, 403, 'PT403');
  });

  it('of 6 concurrent rotations of one generation exactly one wins; the others get PT409 generation_changed', async () => {
    const v = await sharedVault(owner, [[admin, 'admin'], [writer, 'writer']]);
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => rotate(i % 2 ? admin : owner, v, 1, [owner, admin, writer])));
    expect(results.filter((r) => r.status === 200).length).toBe(1);
    expect(results.filter((r) => r.status !== 200).map(hinted)).toEqual(Array(5).fill([409, 'PT409', 'generation_changed']));
    const grants = await adminSql()`select count(*)::int as n from public.vault_key_grants where vault_id = ${v} and key_generation = 2`;
    expect(grants[0]!.n).toBe(3);
  });

  /**
   * Six pushes queue on the vault's row lock held here, then `barrier` (a rotation or a removal),
   * then six more; the lock is released and all of them finish. PostgreSQL wakes a row lock's
   * waiters roughly, not strictly, in the order they queued, so the barrier may take the lock before
   * some of the first six or after some of the second (one CI run saw all twelve pushes land first):
   * each attempt checks what must hold in any order, and the attempts repeat (at most 5, each on a
   * fresh vault) until one has pushes on both sides of the barrier, which proves the race was run.
   */
  async function raceOnVaultLock<B>(setUp: () => Promise<{ vault: string; push: () => ReturnType<typeof push>; barrier: () => Promise<B>; barrierName: string }>,
    check: (outcome: { vault: string; barrier: B; results: Array<Awaited<ReturnType<typeof push>>>; ok: number }) => Promise<void>) {
    for (let attempt = 1; ; attempt++) {
      const { vault, push: pushOne, barrier, barrierName } = await setUp();
      const { pending } = await adminSql().begin(async (tx) => {
        await tx`select 1 from public.vaults where id = ${vault} for update`;
        const first = Promise.all(Array.from({ length: 6 }, pushOne));
        await waitForLockWaiters('push_logs', 6);
        const barrierDone = barrier();
        await waitForLockWaiters(barrierName, 1);
        const second = Promise.all(Array.from({ length: 6 }, pushOne));
        await waitForLockWaiters('push_logs', 12);
        return { pending: Promise.all([first, barrierDone, second]) };
      });
      const [first, barrierResult, second] = await pending;
      const results = [...first, ...second];
      const ok = results.filter((r) => r.status === 200).length;
      await check({ vault, barrier: barrierResult, results, ok });
      if (ok > 0 && ok < 12) return; // pushes landed before the barrier and were refused after it
      expect(attempt, `no attempt of 5 had pushes on both sides of ${barrierName}`).toBeLessThan(5);
    }
  }

  it('pushes racing a rotation: those that take the lock before it land under generation 1, those after it are refused as stale', async () => {
    await raceOnVaultLock(async () => {
      const vault = await sharedVault(owner, [[writer, 'writer']]);
      return { vault, push: () => push(writer, vault, 1), barrier: () => rotate(owner, vault, 1, [owner, writer]), barrierName: 'rotate_vault_key' };
    }, async ({ vault, barrier, results, ok }) => {
      expect(barrier.status).toBe(200);
      expect(results.filter((r) => r.status !== 200).map(hinted)).toEqual(Array(12 - ok).fill([409, 'PT409', 'stale_key_generation']));
      const logs = await adminSql()`select key_generation::int from public.sync_logs where vault_id = ${vault}`;
      expect(logs.length).toBe(ok);
      expect(logs.every((l) => l.key_generation === 1)).toBe(true);
    });
  });

  it('pushes racing a removal: the removed writer\'s pushes that take the lock before it land, those after it get PT404', async () => {
    await raceOnVaultLock(async () => {
      const w = await newMember('racer');
      const vault = await sharedVault(owner, [[w, 'writer']]);
      return { vault, push: () => push(w, vault), barrier: () => rpc('remove_member', { vault_id: vault, user_id: w.id }, owner.access_token),
        barrierName: 'remove_member' };
    }, async ({ vault, barrier, results, ok }) => {
      expect(barrier.status).toBe(204);
      expect(results.filter((r) => r.status !== 200).map(hinted)).toEqual(Array(12 - ok).fill([404, 'PT404', null]));
      const logs = await adminSql()`select count(*)::int as n from public.sync_logs where vault_id = ${vault}`;
      expect(logs[0]!.n).toBe(ok);
    });
  });

  it('voids pending invitations and links of the old generation', async () => {
    const v = await sharedVault(owner, []);
    const guest = await newMember('guest');
    const invited = await invite(owner, v, guest, 'reader');
    const t = token();
    expect((await rpc('create_invite_link', { vault_id: v, token: t, role: 'reader', key_generation: 1, grants: [grantFor(1)] },
      owner.access_token)).status).toBe(200);
    expect((await rotate(owner, v, 1, [owner])).status).toBe(200);
    expect(hinted(await rpc('accept_invitation', { invitation_id: invited.body.id }, guest.access_token)))
      .toEqual([409, 'PT409', 'invitation_closed']);
    expect(hinted(await rpc('claim_invite_link', { token: t }, guest.access_token))).toEqual([409, 'PT409', 'invitation_closed']);
    expectError(await rpc('pull_logs', { vault_id: v, after_sequence: 0, max_count: 10 }, guest.access_token), 404, 'PT404');
  });
});

describe('concurrent claims', () => {
  it('an invitation accepted by 5 concurrent requests: all answer the same, one membership, one grant', async () => {
    const v = await sharedVault(owner, []);
    const guest = await newMember('guest');
    const invited = await invite(owner, v, guest, 'writer');
    const results = await Promise.all(Array.from({ length: 5 }, () =>
      rpc('accept_invitation', { invitation_id: invited.body.id }, guest.access_token)));
    expect(results.map((r) => [r.status, r.body])).toEqual(Array(5).fill([200, { vault_id: v, role: 'writer', key_generation: 1 }]));
    const [counts] = await adminSql()`select
      (select count(*)::int from public.vault_members where vault_id = ${v} and user_id = ${guest.id}) as members,
      (select count(*)::int from public.vault_key_grants where vault_id = ${v} and recipient_id = ${guest.id}) as grants`;
    expect(counts).toEqual({ members: 1, grants: 1 });
  });

  it('a link with 3 uses claimed by 8 users at once: exactly 3 join, 5 get PT409 invitation_closed', async () => {
    const v = await sharedVault(owner, []);
    const claimers = await Promise.all(Array.from({ length: 8 }, (_, i) => newMember(`claimer${i}`)));
    const t = token();
    const created = await rpc('create_invite_link', { vault_id: v, token: t, role: 'reader', key_generation: 1,
      grants: [grantFor(1)], max_uses: 3 }, owner.access_token);
    expect(created.status).toBe(200);
    const results = await Promise.all(claimers.map((c) => rpc('claim_invite_link', { token: t }, c.access_token)));
    expect(results.filter((r) => r.status === 200).length).toBe(3);
    expect(results.filter((r) => r.status !== 200).map(hinted)).toEqual(Array(5).fill([409, 'PT409', 'invitation_closed']));
    const [row] = await adminSql()`select used::int, (select count(*)::int from public.vault_members m where m.vault_id = ${v}) as members
      from public.vault_invite_links where vault_id = ${v}`;
    expect(row).toEqual({ used: 3, members: 4 });
  });

  it('the last use of a link claimed twice at once: one wins (repeated on 5 links)', async () => {
    for (let round = 0; round < 5; round++) {
      const v = await sharedVault(owner, []);
      const [a, b] = await Promise.all([newMember('a'), newMember('b')]);
      const t = token();
      expect((await rpc('create_invite_link', { vault_id: v, token: t, role: 'writer', key_generation: 1, grants: [grantFor(1)] },
        owner.access_token)).status).toBe(200);
      const results = await Promise.all([a, b].map((c) => rpc('claim_invite_link', { token: t }, c.access_token)));
      expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
    }
  });

  it('a member claiming again consumes no use; a writer cannot make links (PT403); the server keeps only the token hash', async () => {
    const v = await sharedVault(owner, [[writer, 'writer']]);
    const guest = await newMember('guest');
    const t = token();
    expectError(await rpc('create_invite_link', { vault_id: v, token: t, role: 'reader', key_generation: 1, grants: [grantFor(1)] },
      writer.access_token), 403, 'PT403');
    expect((await rpc('create_invite_link', { vault_id: v, token: t, role: 'reader', key_generation: 1, grants: [grantFor(1)],
      max_uses: 2 }, owner.access_token)).status).toBe(200);
    const first = await rpc('claim_invite_link', { token: t }, guest.access_token);
    const again = await rpc('claim_invite_link', { token: t }, guest.access_token);
    expect(again.body).toEqual(first.body);
    const rows = await adminSql()`select used::int, token_hash as h, to_jsonb(l)::text as everything
      from public.vault_invite_links l where vault_id = ${v}`;
    expect(rows[0]!.used).toBe(1);
    expect(rows[0]!.h).toBe(createHash('sha256').update(t).digest('hex')); // the hash, and nothing else, of the token
    expect(rows[0]!.everything).not.toContain(t);
    expect((await rpc('store_own_grants', { vault_id: v, grants: [grantFor(1)] }, guest.access_token)).status).toBe(204);
    expect((await api(`/rest/v1/vault_key_grants?vault_id=eq.${v}`, { token: guest.access_token })).body
      .map((g: any) => [g.recipient_id, g.sender_id])).toEqual([[guest.id, guest.id]]);
    expectError(await rpc('store_own_grants', { vault_id: v, grants: [grantFor(2)] }, guest.access_token), 400, 'PT400');
  });
});
