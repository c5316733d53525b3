/**
 * A shared Vault's member operations (issue 18 item 5): invite, members, setRole, removeMember
 * (ends access, then rotates), leave, rotateKey, and the grant refresh its KeyRing uses.
 *
 * Rotation: a new random key of generation current + 1, sealed to every current member's published
 * X25519 key (each identity's self-signature checked first) and, when the owner rotates a Vault it
 * unlocked with its password, the owner's password copy re-wrapped; one rotate_vault_key call naming
 * the generation it replaces. `members_changed` (someone joined or left meanwhile) is retried with
 * the new member list, at most 3 times; `generation_changed` means another device rotated after
 * this one read the generation, i.e. after the removal committed: its keys are fetched and nothing
 * more is needed.
 */
import { ConflictError, UsageError } from '../errors.ts';
import { randomBytes } from '../encoding.ts';
import { wrapVaultKey } from '../vault-key.ts';
import type { GrantIn, SharingApi } from './api.ts';
import { fingerprint, openGrant, type PublicIdentity, sealGrant, verifyIdentity } from './crypto.ts';
import type { UnlockedIdentity } from './identity.ts';
import type { KeyRing } from './keyring.ts';

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
}

const ROLES = new Set(['admin', 'writer', 'reader']);
const checkRole = (role: unknown): Role => {
  if (typeof role !== 'string' || !ROLES.has(role)) throw new UsageError("role must be 'admin', 'writer' or 'reader'");
  return role as Role;
};
const publicIdentity = (r: { user_id: string; encryption_public_key: string; signing_public_key: string; signature: string }):
  PublicIdentity => ({ userId: r.user_id, encryptionPublicKey: r.encryption_public_key, signingPublicKey: r.signing_public_key,
  signature: r.signature });

/** KeyRing refresh: opens this user's grants of generations above `after` (signatures checked). */
export async function refreshGrants(ring: KeyRing, after: number, api: SharingApi, identity: UnlockedIdentity | undefined) {
  if (!identity) return; // a password-unlocked Vault without an identity holds its one generation
  for (const g of await api.grants(ring.vaultId, after + 1)) {
    const sender = g.sender_id === identity.userId ? identity : g.sender_signing_public_key === null ? undefined : {
      userId: g.sender_id, encryptionPublicKey: g.sender_encryption_public_key!, signingPublicKey: g.sender_signing_public_key,
      signature: g.sender_signature!,
    };
    if (!sender) continue; // the sender's identity is gone: the grant cannot be checked, so it is not used
    const raw = await openGrant(ring.vaultId, Number(g.key_generation), identity.userId,
      { publicKey: identity.encryptionPublicKey, privateKey: identity.encryptionPrivateKey }, g, sender);
    await ring.add(Number(g.key_generation), raw);
    raw.fill(0);
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
  ctx.identity(); // the inviter's own identity first, so a missing one is not blamed on the invitee
  const found = await ctx.api.findIdentity(options.email.trim().toLowerCase());
  if (!found) {
    throw new UsageError(`the invitee ${options.email} has no identity yet (or no account): they sign up and call `
      + 'client.unlockIdentity(secret) once, then can be invited; or send them an invite link');
  }
  const invitee = await verifyIdentity(publicIdentity(found));
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

export async function members(ctx: SharedVaultContext): Promise<Member[]> {
  return await Promise.all((await ctx.api.members(ctx.vaultId)).map(async (m) => ({
    userId: m.user_id, email: m.email, role: m.role as Member['role'],
    fingerprint: m.signing_public_key ? await fingerprint(m.encryption_public_key, m.signing_public_key) : null,
  })));
}

export async function setRole(ctx: SharedVaultContext, userId: string, role: Role): Promise<void> {
  await ctx.api.setRole(ctx.vaultId, userId, checkRole(role));
}

/** A new key generation for exactly the current members (see the module doc). Returns the new generation. */
export async function rotateKey(ctx: SharedVaultContext): Promise<number> {
  const me = ctx.identity();
  await ctx.ring.refresh();
  for (let attempt = 0; ; attempt++) {
    const replaces = ctx.ring.current;
    const generation = replaces + 1;
    const raw = randomBytes(32);
    try {
      const list = await ctx.api.members(ctx.vaultId);
      const grants = await Promise.all(list.map(async (m) => {
        if (!m.signing_public_key) throw new UsageError(`member ${m.user_id} has no identity: the key cannot be sealed to them`);
        const member = await verifyIdentity(publicIdentity(m));
        return { recipient_id: m.user_id, ...await sealGrant(ctx.vaultId, generation, m.user_id, member.encryptionPublicKey, raw, me) };
      }));
      const isOwner = list.some((m) => m.user_id === me.userId && m.role === 'owner');
      const ownerKey = isOwner && ctx.password !== undefined ? await wrapVaultKey(ctx.vaultId, raw, ctx.password, generation) : undefined;
      await ctx.api.rotate(ctx.vaultId, replaces, grants, ownerKey === undefined ? null
        : { encrypted_vault_key: ownerKey.encryptedVaultKey, salt: ownerKey.salt, nonce: ownerKey.nonce });
      await ctx.ring.add(generation, raw);
      return generation;
    } catch (error) {
      if (error instanceof ConflictError && error.code === 'generation_changed') {
        await ctx.ring.refresh();
        return ctx.ring.current;
      }
      if (attempt >= 2 || !(error instanceof ConflictError && error.code === 'members_changed')) throw error;
    } finally {
      raw.fill(0);
    }
  }
}

/** Ends the member's access (at once, server-side), then rotates the key. */
export async function removeMember(ctx: SharedVaultContext, userId: string): Promise<void> {
  await ctx.api.remove(ctx.vaultId, userId);
  await rotateKey(ctx);
}

export async function leave(ctx: SharedVaultContext): Promise<void> {
  await ctx.api.leave(ctx.vaultId);
}
