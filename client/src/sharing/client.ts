/**
 * The client-level sharing calls (issue 18 item 5): unlockIdentity, invitations, acceptInvite, and
 * the key ring of a Vault opened through the user's key grants (no vault password).
 */
import { ConflictError, NotFoundError, UsageError } from '../errors.ts';
import type { SharingApi } from './api.ts';
import { fingerprint, verifyIdentity } from './crypto.ts';
import { createIdentity, unlockIdentityRecord, type UnlockedIdentity } from './identity.ts';
import { KeyRing } from './keyring.ts';
import { refreshGrants, type Role } from './members.ts';
import { sameKeys, UntrustedChangeError } from './chain.ts';
import { type ChainPins, verifiedChain } from './trust.ts';

export interface PendingInvitation {
  id: string;
  vaultId: string;
  role: Role;
  expiresAt: string;
  /** The inviter; compare `fingerprint` with what they see on their device before accepting. */
  from: { userId: string; email: string; fingerprint: string };
}

/** Unwraps the user's identity with `secret`, creating (and storing) it on first use. */
export async function unlockIdentity(api: SharingApi, secret: string): Promise<UnlockedIdentity> {
  const stored = await api.getIdentity();
  if (stored) return await unlockIdentityRecord(stored, secret);
  const created = await createIdentity(await api.userId(), secret);
  try {
    await api.createIdentity(created.stored);
  } catch (error) {
    // Another device created it at the same moment: use that one.
    if (error instanceof ConflictError && error.code === 'identity_exists') return await unlockIdentityRecord((await api.getIdentity())!, secret);
    throw error;
  }
  return created.unlocked;
}

/** Pending invitations whose inviter has a valid self-signed identity, with the inviter's fingerprint. */
export async function invitations(api: SharingApi): Promise<PendingInvitation[]> {
  const out: PendingInvitation[] = [];
  for (const row of await api.invitations()) {
    if (!row.inviter_signing_public_key || !row.inviter_encryption_public_key || !row.inviter_signature) continue;
    try {
      await verifyIdentity({ userId: row.inviter_id, encryptionPublicKey: row.inviter_encryption_public_key,
        signingPublicKey: row.inviter_signing_public_key, signature: row.inviter_signature });
    } catch {
      continue; // an inviter identity that does not verify is not shown (it could be the server's)
    }
    out.push({ id: row.id, vaultId: row.vault_id, role: row.role as Role, expiresAt: row.expires_at,
      from: { userId: row.inviter_id, email: row.inviter_email,
        fingerprint: await fingerprint(row.inviter_encryption_public_key, row.inviter_signing_public_key) } });
  }
  return out;
}

/**
 * Accepts an invitation, then holds the vault's chain against what the user saw: the chain must
 * admit this user with their own keys, and know the inviter with the keys whose fingerprint the
 * invitation showed (a chain the server made up would name its own identity there). Returns the vault id.
 */
export async function acceptInvitation(api: SharingApi, me: UnlockedIdentity, invitationId: string, pins: ChainPins): Promise<string> {
  const shown = (await api.invitations()).find((row) => row.id === invitationId);
  const accepted = await api.accept(invitationId);
  const chain = await verifiedChain(api, accepted.vault_id, pins);
  const mine = chain.members.get(me.userId);
  if (!mine || !sameKeys(mine.keys, me)) {
    throw new UntrustedChangeError(accepted.vault_id, 'the vault\'s signed membership does not admit this user with its own keys');
  }
  if (shown?.inviter_signing_public_key && shown.inviter_encryption_public_key) {
    const inviter = chain.knownKeys.get(shown.inviter_id);
    const seen = { userId: shown.inviter_id, encryptionPublicKey: shown.inviter_encryption_public_key,
      signingPublicKey: shown.inviter_signing_public_key, signature: shown.inviter_signature ?? '' };
    if (!inviter || !sameKeys(inviter, seen)) {
      throw new UntrustedChangeError(accepted.vault_id, `the inviter ${shown.inviter_id} in the vault's signed membership is not the one the invitation showed`,
        inviter ? await fingerprint(inviter.encryptionPublicKey, inviter.signingPublicKey) : undefined);
    }
  }
  return accepted.vault_id;
}

/** A key ring filled from the user's grants of the vault: NotFoundError when there is none. */
export async function ringFromGrants(api: SharingApi, vaultId: string, identity: () => UnlockedIdentity | undefined,
  pins: ChainPins): Promise<KeyRing> {
  const me = identity();
  if (!me) throw new UsageError('unlockIdentity(secret) first, or unlock the vault with its password');
  const ring = new KeyRing(vaultId, (r, after) => refreshGrants(r, after, api, identity(), pins));
  await ring.refresh();
  if (ring.current === 0) {
    // Grants that did not verify are not "no grant": say why they were refused.
    throw ring.refusal(0) ?? new NotFoundError(`vault ${vaultId}: no key grant for this user`, 404, 'not_found');
  }
  return ring;
}
