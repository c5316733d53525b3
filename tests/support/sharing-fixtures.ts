/**
 * Fixtures of the shared-vault SQL tests: users with identities (random key bytes of the right
 * sizes: the server checks shapes, the clients check signatures), sealed grants of the right shape,
 * a vault shared through invite_member + accept_invitation, and forced interleavings (whileWaiting).
 */
import { randomBytes } from 'node:crypto';
import type { TransactionSql } from 'postgres';
import { expect, vi } from 'vitest';
import type { StackUser } from '../../stack/users.ts';
import { createVault } from './sql-fixtures.ts';
import { adminSql, newUser, rpc } from './stack.ts';

const b64 = (bytes: number) => randomBytes(bytes).toString('base64');

export const sealed = () => ({ ephemeral_public_key: b64(32), nonce: b64(12), sealed_key: b64(48), signature: b64(64) });
export const grantFor = (key_generation: number) => ({ key_generation, ...sealed() });
export const rotationGrant = (recipient_id: string) => ({ recipient_id, ...sealed() });

/** A new user with an identity (public keys, self-signature and wrapped private keys of the right sizes). */
export async function newMember(label: string): Promise<StackUser> {
  const user = await newUser(label);
  const res = await rpc('create_identity', {
    encryption_public_key: b64(32), signing_public_key: b64(32), signature: b64(64),
    encrypted_private_keys: b64(200), salt: b64(16), nonce: b64(12),
  }, user.access_token);
  expect(res.status).toBe(204);
  return user;
}

export async function invite(from: StackUser, vaultId: string, to: StackUser, role: string, generation = 1) {
  return await rpc('invite_member', { vault_id: vaultId, invitee_id: to.id, role, key_generation: generation,
    grants: [grantFor(generation)] }, from.access_token);
}

/** `to` becomes a member of the vault with `role`, invited by `from`. */
export async function join(from: StackUser, vaultId: string, to: StackUser, role: string, generation = 1) {
  const invited = await invite(from, vaultId, to, role, generation);
  expect(invited.status).toBe(200);
  const accepted = await rpc('accept_invitation', { invitation_id: invited.body.id }, to.access_token);
  expect(accepted.status).toBe(200);
  return invited.body.id as string;
}

/** A vault of `owner` (who has an identity) shared with the given members. */
export async function sharedVault(owner: StackUser, members: Array<[StackUser, string]>) {
  const { vault_id } = await createVault(owner);
  for (const [member, role] of members) await join(owner, vault_id, member, role);
  return vault_id;
}

/**
 * Forces an interleaving: holds `lock` (a statement taking a row lock, e.g. the vault row FOR
 * UPDATE) in a transaction of the superuser, starts `requests`, waits until `waiters` backends
 * running `fn` wait for a lock, runs `meanwhile` inside the same transaction (its changes commit
 * with it, before any waiting request goes on), and commits. Answers the requests' answers.
 */
export async function whileWaiting<T>(lock: (tx: TransactionSql) => Promise<unknown>, fn: string, requests: Array<() => Promise<T>>,
  meanwhile: (tx: TransactionSql) => Promise<unknown> = async () => {}): Promise<T[]> {
  const { pending } = await adminSql().begin(async (tx) => {
    await lock(tx);
    const pending = Promise.all(requests.map((r) => r()));
    await waitForLockWaiters(fn, requests.length);
    await meanwhile(tx);
    return { pending }; // not a promise: begin() must commit without awaiting the blocked requests
  });
  return await pending;
}

/** Waits until at least `count` backends running `fn` wait for a heavyweight lock. */
export async function waitForLockWaiters(fn: string, count: number): Promise<void> {
  await vi.waitFor(async () => {
    const [row] = await adminSql()`select count(*)::int as n from pg_stat_activity
      where wait_event_type = 'Lock' and query ilike ${`%${fn}%`} and pid <> pg_backend_pid()`;
    if (row!.n < count) throw new Error(`${row!.n} of ${count} ${fn} calls wait for the lock`);
  }, { timeout: 15_000, interval: 20 });
}
