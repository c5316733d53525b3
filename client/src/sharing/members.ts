/**
 * A shared Vault's member operations (issue 18 item 5, issue 24): invite, members, setRole,
 * removeMember (ends access, then rotates), leave, rotateKey, and the grant refresh its KeyRing uses.
 * Each one is held against the vault's signed membership chain (chain.ts, trust.ts) and signs its
 * change into it: add (invite), role, remove (removeMember, leave), rotate.
 *
 * Rotation: a new random key of generation n + 1 (n: the newest generation the server announced,
 * also one this device refused), sealed to every member the server lists, each of whom must be a
 * chain member, with the identity keys the chain pinned (else UntrustedChangeError, nothing sealed);
 * when the owner rotates a Vault it unlocked with its password, the owner's password copy re-wrapped;
 * one rotate_vault_key call naming the generation it replaces, then a rotate link naming the
 * recipients and committing to the key (a key check). `members_changed` (someone joined or left
 * meanwhile) is retried with the new member list, at most 3 times; `generation_changed` means another
 * device rotated after this one read the generation: its keys are fetched and nothing more is needed.
 */
import { ConflictError, UsageError } from '../errors.ts';
import { randomBytes } from '../encoding.ts';
import { wrapVaultKey } from '../vault-key.ts';
import type { GrantIn, SharingApi } from './api.ts';
import { keyCheck, memberKeys, UntrustedChangeError } from './chain.ts';
import { fingerprint, GrantVerificationError, openGrant, type PublicIdentity, sealGrant, verifyIdentity } from './crypto.ts';
import type { UnlockedIdentity } from './identity.ts';
import type { KeyRing } from './keyring.ts';
import { append, type ChainPins, checkListed, checkPinned, ensureChain, identityOfRow, verifiedChain } from './trust.ts';

export type Role = 'admin' | 'writer' | 'reader';
export interface Member { userId: string; email: string; role: 'owner' | Role; fingerprint: string | null }
export interface SentInvitation { id: string; vaultId: string; role: Role; expiresAt: string; to: { userId: string; email: string; fingerprint: string } }

/** What a Vault hands to these functions. */
export interface SharedVaultContext {
  vaultId: string;
  ring: KeyRing;
  api: SharingApi;
  identity: () => UnlockedIdentity;
  /** The owner's vault password, when the Vault was unlocked with it (to re-wrap the owner's copy). */
  password: string | undefined;
  /** The verified chain heads of this client (trust.ts). */
  pins: ChainPins;
}

const ROLES = new Set(['admin', 'writer', 'reader']);
const checkRole = (role: unknown): Role => {
  if (typeof role !== 'string' || !ROLES.has(role)) throw new UsageError("role must be 'admin', 'writer' or 'reader'");
  return role as Role;
};
const publicIdentity = identityOfRow;

/**
 * KeyRing refresh: this user's grants of generations above `after`, each accepted only if the
 * vault's verified chain commits to its key (create or rotate link, key check) and its sender's
 * signature holds against the keys the chain pinned; a generation that fails is refused
 * (ring.refuse, UntrustedChangeError) and the ring stays at its last verified one.
 */
export async function refreshGrants(ring: KeyRing, after: number, api: SharingApi, identity: UnlockedIdentity | undefined, pins: ChainPins) {
  if (!identity) return; // a password-unlocked Vault without an identity holds its one generation
  const grants = await api.grants(ring.vaultId, after + 1);
  if (grants.length === 0) return;
  const chain = await verifiedChain(api, ring.vaultId, pins);
  for (const g of grants) {
    const generation = Number(g.key_generation);
    const check = chain.generations.get(generation);
    const refusedRotation = chain.refused.filter((r) => r.type === 'rotate').at(-1);
    if (!check) {
      ring.refuse(generation, new UntrustedChangeError(ring.vaultId, `key generation ${generation} is not in the vault's signed chain`
        + (refusedRotation ? `; link ${refusedRotation.seq} (a rotation) was refused: ${refusedRotation.reason}` : '')));
      continue;
    }
    const sender = g.sender_id === identity.userId ? identity : chain.knownKeys.get(g.sender_id);
    if (!sender) {
      ring.refuse(generation, new UntrustedChangeError(ring.vaultId, `the grant of generation ${generation} comes from ${g.sender_id}, whom the chain does not know`));
      continue;
    }
    let raw: Uint8Array<ArrayBuffer>;
    try {
      raw = await openGrant(ring.vaultId, generation, identity.userId,
        { publicKey: identity.encryptionPublicKey, privateKey: identity.encryptionPrivateKey }, g, sender);
    } catch (error) {
      if (!(error instanceof GrantVerificationError)) throw error;
      ring.refuse(generation, error); // altered or replayed: this generation only, the others still open
      continue;
    }
    try {
      if (await keyCheck(ring.vaultId, generation, raw) !== check) {
        ring.refuse(generation, new UntrustedChangeError(ring.vaultId, `the key of generation ${generation} is not the one its signed rotation names`));
        continue;
      }
      await ring.add(generation, raw);
    } finally {
      raw.fill(0);
    }
  }
}

/** Seals every generation this Vault holds to `recipient` (the newcomer reads the whole history). */
async function grantsFor(ctx: SharedVaultContext, recipient: PublicIdentity): Promise<GrantIn[]> {
  const me = ctx.identity();
  return await Promise.all(ctx.ring.generations.map(async (g) => ({
    key_generation: g,
    ...await sealGrant(ctx.vaultId, g, recipient.userId, recipient.encryptionPublicKey, ctx.ring.raw(g), me),
  })));
}

/**
 * Seals every generation this Vault holds to the user's own identity (the server keeps grants it
 * already has): the user's other devices then open the vault with the identity alone, also an owner
 * who never received a grant (a vault created before sharing).
 */
export async function storeOwnGrants(ctx: SharedVaultContext): Promise<void> {
  const me = ctx.identity();
  await ctx.api.storeOwnGrants(ctx.vaultId, await Promise.all(ctx.ring.generations.map(async (g) => ({
    key_generation: g, ...await sealGrant(ctx.vaultId, g, me.userId, me.encryptionPublicKey, ctx.ring.raw(g), me),
  }))));
}

export async function invite(ctx: SharedVaultContext, options: { email: string; role: Role }): Promise<SentInvitation> {
  const role = checkRole(options?.role);
  if (typeof options.email !== 'string' || !options.email.includes('@')) throw new UsageError('email must be an email address');
  const found = await ctx.api.findIdentity(options.email.trim().toLowerCase());
  if (!found) throw new UsageError(`no user with an identity has the email ${options.email}`);
  const invitee = await verifyIdentity(publicIdentity(found));
  // Signed into the chain before the server hears of it: the inviter (an admin, or the owner for an
  // admin) admits the invitee with the keys it sealed to.
  await checkPinned(await ensureChain(ctx), invitee);
  await append(ctx, (s) => s.members.has(invitee.userId) ? undefined : { type: 'add', member: memberKeys(invitee), role });
  await storeOwnGrants(ctx);
  for (let attempt = 0; ; attempt++) {
    try {
      const sent = await ctx.api.invite(ctx.vaultId, invitee.userId, role, ctx.ring.current, await grantsFor(ctx, invitee));
      return { id: sent.id, vaultId: ctx.vaultId, role, expiresAt: sent.expires_at,
        to: { userId: invitee.userId, email: found.email ?? options.email, fingerprint: await fingerprint(invitee.encryptionPublicKey, invitee.signingPublicKey) } };
    } catch (error) {
      if (attempt > 0 || !(error instanceof ConflictError && error.code === 'stale_key_generation')) throw error;
      await ctx.ring.refresh(); // the key rotated meanwhile: invite under the new generation
    }
  }
}

/** The members, each checked against the signed chain (role and identity keys); UntrustedChangeError otherwise. */
export async function members(ctx: SharedVaultContext): Promise<Member[]> {
  const chain = await ensureChain(ctx);
  const checked = await checkListed(chain, await ctx.api.members(ctx.vaultId), { roles: true });
  return checked.map(([row, signed]) => ({ userId: row.user_id, email: row.email, role: signed.role, fingerprint: signed.fingerprint }));
}

export async function setRole(ctx: SharedVaultContext, userId: string, role: Role): Promise<void> {
  await ctx.api.setRole(ctx.vaultId, userId, checkRole(role));
  // Nothing to sign for someone the chain does not know (a vault whose chain the owner has not started).
  await append(ctx, (s) => !s.members.has(userId) || s.members.get(userId)!.role === role ? undefined
    : { type: 'role', member: userId, role });
}

/** A new key generation for exactly the current members (see the module doc). Returns the new generation. */
export async function rotateKey(ctx: SharedVaultContext): Promise<number> {
  const me = ctx.identity();
  await ctx.ring.refresh();
  for (let attempt = 0; ; attempt++) {
    const replaces = ctx.ring.newestSeen;
    const generation = replaces + 1;
    const raw = randomBytes(32);
    try {
      const chain = await ensureChain(ctx);
      const list = await ctx.api.members(ctx.vaultId);
      // Before sealing to anyone: each listed member is one the chain admits, with its pinned keys.
      const checked = await checkListed(chain, list, { roles: false });
      const grants = await Promise.all(checked.map(async ([m, signed]) => ({
        recipient_id: m.user_id, ...await sealGrant(ctx.vaultId, generation, m.user_id, signed.keys.encryptionPublicKey, raw, me),
      })));
      const isOwner = chain.owner === me.userId;
      const ownerKey = isOwner && ctx.password !== undefined ? await wrapVaultKey(ctx.vaultId, raw, ctx.password, generation) : undefined;
      const check = await keyCheck(ctx.vaultId, generation, raw);
      await ctx.api.rotate(ctx.vaultId, replaces, grants, ownerKey === undefined ? null
        : { encrypted_vault_key: ownerKey.encryptedVaultKey, salt: ownerKey.salt, nonce: ownerKey.nonce });
      await ctx.ring.add(generation, raw);
      await append(ctx, () => ({ type: 'rotate', generation, check, recipients: checked.map(([m]) => m.user_id) }));
      return generation;
    } catch (error) {
      if (error instanceof ConflictError && error.code === 'generation_changed') {
        await ctx.ring.refresh();
        if (ctx.ring.newestSeen > replaces) return ctx.ring.current;
      }
      if (attempt >= 2 || !(error instanceof ConflictError && error.code === 'members_changed')) throw error;
    } finally {
      raw.fill(0);
    }
  }
}

/** Ends the member's access (at once, server-side), signs the removal, then rotates the key. */
export async function removeMember(ctx: SharedVaultContext, userId: string): Promise<void> {
  await ctx.api.remove(ctx.vaultId, userId);
  await append(ctx, (s) => s.members.has(userId) ? { type: 'remove', member: userId } : undefined);
  await rotateKey(ctx);
}

/** Signs the leaving into the chain (a member can append only while it is one), then leaves. */
export async function leave(ctx: SharedVaultContext): Promise<void> {
  const me = ctx.identity();
  await append(ctx, (s) => s.members.has(me.userId) ? { type: 'remove', member: me.userId } : undefined);
  await ctx.api.leave(ctx.vaultId);
}

