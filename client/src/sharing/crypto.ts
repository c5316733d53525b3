/**
 * The cryptography of shared vaults (docs/sharing.md): identities, sealed and signed key grants,
 * fingerprints. WebCrypto only (X25519, Ed25519, HKDF-SHA-256, AES-256-GCM: Node 20+, Deno, current
 * browsers).
 *
 * Identity self-signature (Ed25519 by the identity's own signing key) over the UTF-8 of
 *   "haex-sync/identity/v1" 0x00 userId 0x00 base64(x25519 public) 0x00 base64(ed25519 public)
 *
 * Sealed grant of a vault key (32 bytes) for generation g to recipient r (a user id, or "link:<token>"):
 *   info      = UTF-8 of "haex-sync/grant/v1" 0x00 vaultId 0x00 g 0x00 r 0x00 base64(recipient x25519 public)
 *   shared    = X25519(ephemeral private, recipient public)          (a fresh ephemeral key per grant)
 *   key       = HKDF-SHA-256(ikm = shared, salt = ephemeral public || recipient public, info) -> AES-256-GCM
 *   sealedKey = AES-256-GCM(key, nonce = 12 random bytes, vault key, AAD = info)   (32 + 16 bytes)
 *   signature = Ed25519(sender's signing key, UTF-8 of "haex-sync/grant-signature/v1" 0x00 senderId 0x00
 *               info 0x00 base64(ephemeral public) 0x00 base64(nonce) 0x00 base64(sealedKey))
 * The recipient checks the signature against the sender's published signing key (whose identity
 * record must carry a valid self-signature) BEFORE opening: a grant that the server forged, moved to
 * another vault, generation or recipient, or re-sealed, is refused (GrantVerificationError).
 * UUIDs are lower-case canonical; NUL separates fields none of which can contain it.
 *
 * Fingerprint: SHA-256(x25519 public || ed25519 public), hex in 16 groups of 4, e.g. "3f2a 9c01 …".
 */
import { HaexSyncError } from '../errors.ts';
import { fromBase64, randomBytes, subtle, toBase64, utf8 } from '../encoding.ts';

export const IDENTITY_SIGNATURE_PREFIX = 'haex-sync/identity/v1';
export const GRANT_INFO_PREFIX = 'haex-sync/grant/v1';
export const GRANT_SIGNATURE_PREFIX = 'haex-sync/grant-signature/v1';

/** A grant or identity record failed its check: do not use it (the server, or someone, altered it). */
export class GrantVerificationError extends HaexSyncError {}

/** The public, self-signed half of an identity, as stored in public.identities. */
export interface PublicIdentity {
  userId: string;
  encryptionPublicKey: string;
  signingPublicKey: string;
  signature: string;
}

/** A sealed grant on the wire (the SQL API's snake_case, as stored). */
export interface SealedGrant {
  ephemeral_public_key: string;
  nonce: string;
  sealed_key: string;
  signature: string;
}

const X25519 = { name: 'X25519' } as const;
const ED25519 = { name: 'Ed25519' } as const;
const X25519_PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20]);

const concat = (...parts: Uint8Array[]): Uint8Array<ArrayBuffer> => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
};

export const identitySignedBytes = (id: Omit<PublicIdentity, 'signature'>) =>
  utf8(`${IDENTITY_SIGNATURE_PREFIX}\u0000${id.userId.toLowerCase()}\u0000${id.encryptionPublicKey}\u0000${id.signingPublicKey}`);

export const grantInfo = (vaultId: string, generation: number, recipient: string, recipientPublicKey: string) =>
  utf8(`${GRANT_INFO_PREFIX}\u0000${vaultId.toLowerCase()}\u0000${generation}\u0000${recipient.toLowerCase()}\u0000${recipientPublicKey}`);

const grantSignedBytes = (senderId: string, info: Uint8Array, g: Omit<SealedGrant, 'signature'>) => concat(
  utf8(`${GRANT_SIGNATURE_PREFIX}\u0000${senderId.toLowerCase()}\u0000`), info,
  utf8(`\u0000${g.ephemeral_public_key}\u0000${g.nonce}\u0000${g.sealed_key}`));

export async function generateKeyPairs() {
  const [encryption, signing] = await Promise.all([
    subtle().generateKey(X25519, true, ['deriveBits']) as Promise<CryptoKeyPair>,
    subtle().generateKey(ED25519, true, ['sign', 'verify']) as Promise<CryptoKeyPair>,
  ]);
  return { encryption, signing };
}

export const exportRawPublic = async (key: CryptoKey) => toBase64(new Uint8Array(await subtle().exportKey('raw', key)));

export const sign = async (privateKey: CryptoKey, bytes: Uint8Array<ArrayBuffer>) =>
  toBase64(new Uint8Array(await subtle().sign(ED25519, privateKey, bytes)));

async function verify(publicKeyB64: string, signatureB64: string, bytes: Uint8Array<ArrayBuffer>): Promise<boolean> {
  try {
    const key = await subtle().importKey('raw', fromBase64(publicKeyB64, 'signing key'), ED25519, false, ['verify']);
    return await subtle().verify(ED25519, key, fromBase64(signatureB64, 'signature'), bytes);
  } catch {
    return false;
  }
}

/** Checks an identity's self-signature; GrantVerificationError when it does not hold. */
export async function verifyIdentity(identity: PublicIdentity): Promise<PublicIdentity> {
  if (!await verify(identity.signingPublicKey, identity.signature, identitySignedBytes(identity))) {
    throw new GrantVerificationError(`the identity of user ${identity.userId} has no valid self-signature`);
  }
  return identity;
}

/** SHA-256 over both public keys, as 16 groups of 4 hex digits. */
export async function fingerprint(encryptionPublicKey: string, signingPublicKey: string): Promise<string> {
  const digest = new Uint8Array(await subtle().digest('SHA-256',
    concat(fromBase64(encryptionPublicKey, 'encryptionPublicKey'), fromBase64(signingPublicKey, 'signingPublicKey'))));
  const hex = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
  return hex.match(/.{4}/g)!.join(' ');
}

async function grantKey(shared: ArrayBuffer, ephemeralPublic: Uint8Array, recipientPublic: Uint8Array, info: Uint8Array<ArrayBuffer>) {
  const material = await subtle().importKey('raw', shared, 'HKDF', false, ['deriveKey']);
  return await subtle().deriveKey({ name: 'HKDF', hash: 'SHA-256', salt: concat(ephemeralPublic, recipientPublic), info },
    material, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
}

export interface Sender { userId: string; signingPrivateKey: CryptoKey }

/** Seals a raw vault key of `generation` to `recipient` (whose X25519 public key is given) and signs it. */
export async function sealGrant(vaultId: string, generation: number, recipient: string, recipientPublicKey: string,
  rawVaultKey: Uint8Array<ArrayBuffer>, sender: Sender): Promise<SealedGrant> {
  const info = grantInfo(vaultId, generation, recipient, recipientPublicKey);
  const recipientRaw = fromBase64(recipientPublicKey, 'recipient public key');
  const recipientKey = await subtle().importKey('raw', recipientRaw, X25519, false, []);
  const ephemeral = await subtle().generateKey(X25519, true, ['deriveBits']) as CryptoKeyPair;
  const ephemeralRaw = new Uint8Array(await subtle().exportKey('raw', ephemeral.publicKey));
  const shared = await subtle().deriveBits({ name: 'X25519', public: recipientKey }, ephemeral.privateKey, 256);
  const key = await grantKey(shared, ephemeralRaw, recipientRaw, info);
  const nonce = randomBytes(12);
  const sealed = new Uint8Array(await subtle().encrypt({ name: 'AES-GCM', iv: nonce, additionalData: info }, key, rawVaultKey));
  const grant = { ephemeral_public_key: toBase64(ephemeralRaw), nonce: toBase64(nonce), sealed_key: toBase64(sealed) };
  return { ...grant, signature: await sign(sender.signingPrivateKey, grantSignedBytes(sender.userId, info, grant)) };
}

/**
 * Checks the grant's signature against the sender's published identity (itself self-signed), then
 * opens it with the recipient's X25519 private key: the raw vault key. GrantVerificationError on any failure.
 */
export async function openGrant(vaultId: string, generation: number, recipient: string,
  recipientKeys: { publicKey: string; privateKey: CryptoKey }, grant: SealedGrant, sender: PublicIdentity):
  Promise<Uint8Array<ArrayBuffer>> {
  await verifyIdentity(sender);
  const info = grantInfo(vaultId, generation, recipient, recipientKeys.publicKey);
  if (!await verify(sender.signingPublicKey, grant.signature, grantSignedBytes(sender.userId, info, grant))) {
    throw new GrantVerificationError(`the key grant of generation ${generation} of vault ${vaultId} has no valid signature of ${sender.userId}`);
  }
  try {
    const ephemeralRaw = fromBase64(grant.ephemeral_public_key, 'ephemeral_public_key');
    const ephemeral = await subtle().importKey('raw', ephemeralRaw, X25519, false, []);
    const shared = await subtle().deriveBits({ name: 'X25519', public: ephemeral }, recipientKeys.privateKey, 256);
    const key = await grantKey(shared, ephemeralRaw, fromBase64(recipientKeys.publicKey, 'public key'), info);
    return new Uint8Array(await subtle().decrypt({ name: 'AES-GCM', iv: fromBase64(grant.nonce, 'nonce'), additionalData: info },
      key, fromBase64(grant.sealed_key, 'sealed_key')));
  } catch (cause) {
    throw new GrantVerificationError(`the key grant of generation ${generation} of vault ${vaultId} cannot be opened`, { cause });
  }
}

/** An X25519 key pair from 32 secret bytes (an invite link's secret): the link's "recipient". */
export async function keyPairFromSecret(secret: Uint8Array<ArrayBuffer>): Promise<{ publicKey: string; privateKey: CryptoKey }> {
  const privateKey = await subtle().importKey('pkcs8', concat(X25519_PKCS8_PREFIX, secret), X25519, true, ['deriveBits']);
  const jwk = await subtle().exportKey('jwk', privateKey);
  const publicKey = toBase64(Uint8Array.from(atob(jwk.x!.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0)));
  return { publicKey, privateKey };
}
