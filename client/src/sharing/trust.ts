/**
 * What a device does with the membership chain (chain.ts) before it trusts the server: fetch and
 * replay it against the head it pinned (trust on first use, per vault and client), start it (the
 * owner's device, for a vault that has none yet), append signed links (retrying when another device
 * appended first: PT409 chain_changed), and hold the server's member list against it.
 *
 * Invariants: a device seals a key only to a member the chain admits, with the identity keys the
 * chain recorded for them; it shows a member list only when every listed member, role and key
 * matches the chain; the pin only moves forward.
 */
import { ConflictError } from '../errors.ts';
import type { MemberRow, SharingApi } from './api.ts';
import { fingerprint, type PublicIdentity } from './crypto.ts';
import { type ChainMember, type ChainState, keyCheck, memberKeys, replayChain, sameKeys, signLink, UntrustedChangeError } from './chain.ts';
import type { UnlockedIdentity } from './identity.ts';
import type { KeyRing } from './keyring.ts';

/** Verified chain heads per vault (the pins). The default keeps them for the client's lifetime. */
export type ChainPins = Map<string, { seq: number; hash: string }>;

const APPEND_ATTEMPTS = 4;

/** The vault's chain, replayed and checked against (then advancing) the pin. */
export async function verifiedChain(api: SharingApi, vaultId: string, pins: ChainPins): Promise<ChainState> {
  const state = await replayChain(vaultId, await api.chainLinks(vaultId), pins.get(vaultId));
  if (state.head) pins.set(vaultId, state.head);
  return state;
}

export interface ChainContext { vaultId: string; api: SharingApi; pins: ChainPins; ring: KeyRing; identity: () => UnlockedIdentity }

/**
 * The verified chain, started first when the vault has none and this user is its owner: a create
 * link committing to every key generation this device holds, then an add link for every member the
 * server lists today (a vault shared before chains existed: the one time the server's list is taken
 * on trust, docs/sharing.md). Anyone else gets UntrustedChangeError until the owner's device did so.
 */
export async function ensureChain(ctx: ChainContext): Promise<ChainState> {
  const state = await verifiedChain(ctx.api, ctx.vaultId, ctx.pins);
  if (state.head) return state;
  const me = ctx.identity();
  const listed = await ctx.api.members(ctx.vaultId);
  if (!listed.some((m) => m.user_id === me.userId && m.role === 'owner')) {
    throw new UntrustedChangeError(ctx.vaultId, 'the vault has no signed membership yet: its owner\'s device starts it when it next shares');
  }
  const keys = await Promise.all(ctx.ring.generations.map(async (g) => ({ generation: g, check: await keyCheck(ctx.vaultId, g, ctx.ring.raw(g)) })));
  await append(ctx, () => ({ type: 'create', owner: memberKeys(me), keys }));
  for (const m of listed) {
    if (m.user_id === me.userId || !m.signing_public_key) continue;
    await append(ctx, (s) => s.members.has(m.user_id) ? undefined : { type: 'add', member: memberKeys(identityOfRow(m)), role: m.role });
  }
  return await verifiedChain(ctx.api, ctx.vaultId, ctx.pins);
}

/**
 * Appends the link `build` makes from the verified chain (undefined: nothing to append), signed by
 * this user; on chain_changed it replays the newer chain and builds again.
 */
export async function append(ctx: ChainContext, build: (state: ChainState) => (Record<string, unknown> & { type: string }) | undefined) {
  const me = ctx.identity();
  for (let attempt = 1; ; attempt++) {
    const state = await verifiedChain(ctx.api, ctx.vaultId, ctx.pins);
    const fields = build(state);
    if (!fields) return state;
    try {
      const link = await signLink(me, ctx.vaultId, state.head, fields);
      const head = await ctx.api.appendChainLink(ctx.vaultId, link);
      ctx.pins.set(ctx.vaultId, { seq: Number(head.seq), hash: head.hash });
      return state;
    } catch (error) {
      if (attempt >= APPEND_ATTEMPTS || !(error instanceof ConflictError && error.code === 'chain_changed')) throw error;
    }
  }
}

export const identityOfRow = (r: { user_id: string; encryption_public_key: string; signing_public_key: string; signature: string }):
  PublicIdentity => ({ userId: r.user_id, encryptionPublicKey: r.encryption_public_key, signingPublicKey: r.signing_public_key, signature: r.signature });

/**
 * The server's member list held against the chain: every listed member must be a chain member with
 * the same identity keys (and, with `roles`, the same role). Answers the chain's record of each.
 */
export async function checkListed(state: ChainState, listed: MemberRow[], options: { roles: boolean }): Promise<Array<[MemberRow, ChainMember]>> {
  const out: Array<[MemberRow, ChainMember]> = [];
  for (const row of listed) {
    const signed = state.members.get(row.user_id);
    const shown = row.signing_public_key ? await fingerprint(row.encryption_public_key, row.signing_public_key) : undefined;
    if (!signed) {
      throw new UntrustedChangeError(state.vaultId, `the server lists ${row.email ?? row.user_id} (${row.user_id}) as a member, but no signed change admitted them`, shown);
    }
    if (!row.signing_public_key || !sameKeys(identityOfRow(row), signed.keys)) {
      throw new UntrustedChangeError(state.vaultId, `the identity key of ${row.email ?? row.user_id} (${row.user_id}) changed from the pinned ${signed.fingerprint}`, shown);
    }
    if (options.roles && row.role !== signed.role) {
      throw new UntrustedChangeError(state.vaultId, `the server says ${row.user_id} is ${row.role}, the signed membership says ${signed.role}`);
    }
    out.push([row, signed]);
  }
  return out;
}

/** Trust on first use: a user this vault's chain already knows must come with the same keys. */
export async function checkPinned(state: ChainState, identity: PublicIdentity): Promise<void> {
  const known = state.knownKeys.get(identity.userId);
  if (known && !sameKeys(known, identity)) {
    throw new UntrustedChangeError(state.vaultId, `the identity key of ${identity.userId} is not the one pinned for this vault`,
      await fingerprint(identity.encryptionPublicKey, identity.signingPublicKey));
  }
}
