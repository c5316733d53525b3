/**
 * The sharing calls of the SQL API (supabase/migrations/202612032*, docs/sql-api.md) through
 * supabase-js `.rpc()`, with the rpc transport's error mapping (PT403 -> ForbiddenError, PT404 ->
 * NotFoundError, PT409 -> ConflictError whose `code` is the hint, e.g. stale_key_generation).
 * Rows stay snake_case here; sharing/*.ts maps them to the public shapes.
 */
import type { SupabaseClient } from '@supabase/supabase-js';
import { UsageError } from '../errors.ts';
import { call } from '../transport/rpc.ts';
import type { SealedGrant } from './crypto.ts';
import type { StoredIdentity } from './identity.ts';

export type Db = SupabaseClient<any, any, any>;

export interface IdentityRow { user_id: string; email?: string; encryption_public_key: string; signing_public_key: string; signature: string }
export interface MemberRow extends IdentityRow { email: string; role: string; created_at: string }
export interface GrantRow extends SealedGrant {
  key_generation: number; sender_id: string; sender_signing_public_key: string | null;
  sender_encryption_public_key: string | null; sender_signature: string | null;
}
export interface InvitationRow {
  id: string; vault_id: string; role: string; key_generation: number; expires_at: string; inviter_id: string;
  inviter_email: string; inviter_encryption_public_key: string | null; inviter_signing_public_key: string | null;
  inviter_signature: string | null;
}
export type GrantIn = SealedGrant & { key_generation?: number; recipient_id?: string };

const rpc = <T>(db: Db, fn: string, args: Record<string, unknown> = {}) =>
  call<T>(fn, () => db.rpc(fn, args) as unknown as PromiseLike<{ data: T | null; error: any; status: number }>);

export const sharingApi = (db: Db | undefined) => {
  if (!db) throw new UsageError('sharing needs HaexSyncClient.create({ supabase })');
  return {
    async userId(): Promise<string> {
      const { data } = await db.auth.getSession();
      const id = data.session?.user.id ?? (await db.auth.getUser()).data.user?.id;
      if (!id) throw new UsageError('sharing needs a signed-in supabase client');
      return id;
    },
    async getIdentity(): Promise<StoredIdentity | undefined> {
      const rows = await rpc<Array<IdentityRow & { encrypted_private_keys: string; salt: string; nonce: string }>>(db, 'get_identity');
      const r = rows?.[0];
      return r && { userId: r.user_id, encryptionPublicKey: r.encryption_public_key, signingPublicKey: r.signing_public_key,
        signature: r.signature, encryptedPrivateKeys: r.encrypted_private_keys, salt: r.salt, nonce: r.nonce };
    },
    createIdentity: (s: StoredIdentity) => rpc<null>(db, 'create_identity', {
      encryption_public_key: s.encryptionPublicKey, signing_public_key: s.signingPublicKey, signature: s.signature,
      encrypted_private_keys: s.encryptedPrivateKeys, salt: s.salt, nonce: s.nonce,
    }),
    findIdentity: async (email: string) => (await rpc<IdentityRow[]>(db, 'find_identity', { email }))?.[0],
    members: async (vaultId: string) => (await rpc<MemberRow[]>(db, 'list_vault_members', { vault_id: vaultId })) ?? [],
    grants: async (vaultId: string, minGeneration: number) =>
      (await rpc<GrantRow[]>(db, 'list_key_grants', { vault_id: vaultId, min_generation: minGeneration })) ?? [],
    invite: (vaultId: string, inviteeId: string, role: string, generation: number, grants: GrantIn[]) =>
      rpc<{ id: string; expires_at: string; role: string }>(db, 'invite_member',
        { vault_id: vaultId, invitee_id: inviteeId, role, key_generation: generation, grants }),
    invitations: async () => (await rpc<InvitationRow[]>(db, 'list_invitations')) ?? [],
    accept: (id: string) => rpc<{ vault_id: string; role: string; key_generation: number }>(db, 'accept_invitation', { invitation_id: id }),
    decline: (id: string) => rpc<null>(db, 'decline_invitation', { invitation_id: id }),
    setRole: (vaultId: string, userId: string, role: string) => rpc<null>(db, 'set_member_role', { vault_id: vaultId, user_id: userId, role }),
    remove: (vaultId: string, userId: string) => rpc<null>(db, 'remove_member', { vault_id: vaultId, user_id: userId }),
    leave: (vaultId: string) => rpc<null>(db, 'leave_vault', { vault_id: vaultId }),
    rotate: (vaultId: string, replaces: number, grants: GrantIn[], ownerKey: Record<string, string> | null) =>
      rpc<{ key_generation: number }>(db, 'rotate_vault_key',
        { vault_id: vaultId, replaces_generation: replaces, grants, owner_key: ownerKey }),
    createLink: (vaultId: string, token: string, role: string, generation: number, grants: GrantIn[], maxUses: number,
      expiresInSeconds: number) => rpc<{ id: string; expires_at: string }>(db, 'create_invite_link', {
      vault_id: vaultId, token, role, key_generation: generation, grants, max_uses: maxUses, expires_in_seconds: expiresInSeconds,
    }),
    claimLink: (token: string) => rpc<{ vault_id: string; role: string; key_generation: number; inviter_id: string; grants: GrantIn[] }>(
      db, 'claim_invite_link', { token }),
    storeOwnGrants: (vaultId: string, grants: GrantIn[]) => rpc<null>(db, 'store_own_grants', { vault_id: vaultId, grants }),
    chainLinks: async (vaultId: string, afterSeq = -1) =>
      (await rpc<Array<{ seq: number; body: string; signature: string; hash: string }>>(db, 'list_chain_links',
        { vault_id: vaultId, after_seq: afterSeq })) ?? [],
    appendChainLink: (vaultId: string, link: { body: string; signature: string }) =>
      rpc<{ seq: number; hash: string }>(db, 'append_chain_link', { vault_id: vaultId, body: link.body, signature: link.signature }),
    identityOf: async (userId: string) => {
      const { data, error } = await db.from('identities').select('user_id, encryption_public_key, signing_public_key, signature')
        .eq('user_id', userId).maybeSingle();
      if (error) throw new UsageError(`identities: ${error.message}`);
      return data as IdentityRow | null;
    },
  };
};
export type SharingApi = ReturnType<typeof sharingApi>;
