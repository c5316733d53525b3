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
import type { ChainPins } from './trust.ts';

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
