/**
 * Invite links (issue 18 item 3): for someone who has no account yet. A link is
 *   <token>.<secret>   token = 16 random bytes, secret = 32 random bytes, both base64url
 * The app puts it in a URL fragment. The server stores only SHA-256(token) and counts the uses; the
 * secret never reaches it. The vault keys (every generation the inviter holds) are sealed as grants
 * (crypto.ts) to the X25519 key derived from the secret, recipient "link:<token>", and signed by the
 * inviter. Joining claims one use, checks the inviter's identity and signatures, opens the grants,
 * and stores them again sealed to the joiner's own identity (store_own_grants).
 *
 * The membership chain (chain.ts): creating a link signs a `link` entry naming the Ed25519 key
 * derived from the secret (chain.linkSigningKey), the role and the uses; the joiner, once the claim
 * made it a member, signs a `join` entry that the link key also signs (proof it holds the secret),
 * so other devices admit the joiner without trusting the server (a Keybase "seitan" token, in short).
 */
import { UsageError } from '../errors.ts';
import { fromBase64, randomBytes, subtle, toBase64 } from '../encoding.ts';
import type { SharingApi } from './api.ts';
import { keyPairFromSecret, openGrant, sealGrant, verifyIdentity } from './crypto.ts';
import type { UnlockedIdentity } from './identity.ts';
import { joinSignedBytes, linkSigningKey, memberKeys } from './chain.ts';
import { type Role, type SharedVaultContext, storeOwnGrants } from './members.ts';
import { append, type ChainPins, ensureChain, verifiedChain } from './trust.ts';

const b64url = (bytes: Uint8Array) => toBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const fromB64url = (text: string) => fromBase64(text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - text.length % 4) % 4), 'link');

export async function createInviteLink(ctx: SharedVaultContext,
  options: { role: Role; maxUses?: number; expiresInSeconds?: number }): Promise<string> {
  const me = ctx.identity();
  await storeOwnGrants(ctx);
  const token = b64url(randomBytes(16));
  const secret = randomBytes(32);
  const link = await keyPairFromSecret(secret);
  const signing = await linkSigningKey(secret);
  await ensureChain(ctx);
  await append(ctx, () => ({ type: 'link', linkKey: signing.publicKey, role: options.role, maxUses: options.maxUses ?? 1 }));
  const grants = await Promise.all(ctx.ring.generations.map(async (g) => ({
    key_generation: g, ...await sealGrant(ctx.vaultId, g, `link:${token}`, link.publicKey, ctx.ring.raw(g), me),
  })));
  await ctx.api.createLink(ctx.vaultId, token, options.role, ctx.ring.current, grants, options.maxUses ?? 1,
    options.expiresInSeconds ?? 7 * 86400);
  return `${token}.${b64url(secret)}`;
}

/** Claims a link and stores its keys as this user's own grants; returns the vault id. */
export async function claimInviteLink(api: SharingApi, me: UnlockedIdentity, link: string, pins: ChainPins): Promise<string> {
  const [token, secretText] = typeof link === 'string' ? link.split('.') : [];
  if (!token || !secretText) throw new UsageError('an invite link is <token>.<secret>');
  const secret = fromB64url(secretText);
  const keys = await keyPairFromSecret(secret);
  const signing = await linkSigningKey(secret);
  const claimed = await api.claimLink(token);
  // A member now (the server says): sign the join, with the link's key as the proof of invitation.
  const ctx = { vaultId: claimed.vault_id, api, pins, identity: () => me, ring: undefined as never };
  const joinSignature = toBase64(new Uint8Array(await subtle().sign({ name: 'Ed25519' }, signing.privateKey,
    joinSignedBytes(claimed.vault_id, signing.publicKey, me))));
  await append(ctx, (s) => s.members.has(me.userId) ? undefined
    : { type: 'join', member: memberKeys(me), linkKey: signing.publicKey, linkSignature: joinSignature });
  // The inviter's keys as the chain pinned them (not as the server publishes them now).
  const inviter = (await verifiedChain(api, claimed.vault_id, pins)).knownKeys.get(claimed.inviter_id);
  if (!inviter) throw new UsageError('the inviter is not in the vault\'s signed membership');
  await verifyIdentity(inviter);
  const own = await Promise.all(claimed.grants.map(async (g) => {
    const generation = Number(g.key_generation);
    const raw = await openGrant(claimed.vault_id, generation, `link:${token}`, keys, g, inviter);
    try {
      return { key_generation: generation, ...await sealGrant(claimed.vault_id, generation, me.userId, me.encryptionPublicKey, raw, me) };
    } finally {
      raw.fill(0);
    }
  }));
  await api.storeOwnGrants(claimed.vault_id, own);
  return claimed.vault_id;
}
