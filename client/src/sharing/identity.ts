/**
 * A user's identity (issue 18 item 1): an X25519 key pair (receives vault keys) and an Ed25519 key
 * pair (signs grants), made on the device by unlockIdentity(secret) on first use.
 *
 * Stored on the server (public.identities, public.identity_private_keys):
 *   encryption_public_key, signing_public_key = base64 of the 32 raw bytes of each public key
 *   signature              = the self-signature (crypto.ts)
 *   encrypted_private_keys = base64 of AES-256-GCM(kek, nonce, UTF-8 of JSON {"x25519": pkcs8 b64, "ed25519": pkcs8 b64},
 *                            AAD = UTF-8 of "haex-sync/identity-keys/v1" 0x00 userId 0x00 encPub 0x00 sigPub)
 *   kek                    = PBKDF2-SHA-256(secret NFC, salt = 32 random bytes, 600,000 iterations) -> AES-256
 * The secret never leaves the device; a wrong secret fails GCM authentication (WrongSecretError).
 */
import { HaexSyncError, UsageError } from '../errors.ts';
import { fromBase64, fromUtf8, randomBytes, subtle, toBase64, utf8 } from '../encoding.ts';
import { deriveKeyEncryptionKey } from '../vault-key.ts';
import { exportRawPublic, fingerprint, generateKeyPairs, identitySignedBytes, type PublicIdentity, sign } from './crypto.ts';

export const IDENTITY_KEYS_AAD_PREFIX = 'haex-sync/identity-keys/v1';

/** The identity's private keys could not be unwrapped: wrong secret (or a record that is not this user's). */
export class WrongSecretError extends HaexSyncError {}

export interface StoredIdentity extends PublicIdentity {
  encryptedPrivateKeys: string;
  salt: string;
  nonce: string;
}

/** An unlocked identity: public halves and the private keys (non-extractable once imported). */
export interface UnlockedIdentity extends PublicIdentity {
  encryptionPrivateKey: CryptoKey;
  signingPrivateKey: CryptoKey;
  fingerprint: string;
}

const aad = (id: Omit<PublicIdentity, 'signature'>) =>
  utf8(`${IDENTITY_KEYS_AAD_PREFIX}\u0000${id.userId.toLowerCase()}\u0000${id.encryptionPublicKey}\u0000${id.signingPublicKey}`);

const checkSecret = (secret: string) => {
  if (typeof secret !== 'string' || secret.length === 0) throw new UsageError('the identity secret must be a non-empty string');
};

/** Makes a new identity for `userId`, its private keys wrapped under `secret`. */
export async function createIdentity(userId: string, secret: string): Promise<{ stored: StoredIdentity; unlocked: UnlockedIdentity }> {
  checkSecret(secret);
  const { encryption, signing } = await generateKeyPairs();
  const pub = { userId: userId.toLowerCase(), encryptionPublicKey: await exportRawPublic(encryption.publicKey),
    signingPublicKey: await exportRawPublic(signing.publicKey) };
  const signature = await sign(signing.privateKey, identitySignedBytes(pub));
  const plaintext = utf8(JSON.stringify({
    x25519: toBase64(new Uint8Array(await subtle().exportKey('pkcs8', encryption.privateKey))),
    ed25519: toBase64(new Uint8Array(await subtle().exportKey('pkcs8', signing.privateKey))),
  }));
  const salt = randomBytes(32);
  const nonce = randomBytes(12);
  const kek = await deriveKeyEncryptionKey(secret, salt);
  const sealed = new Uint8Array(await subtle().encrypt({ name: 'AES-GCM', iv: nonce, additionalData: aad(pub) }, kek, plaintext));
  plaintext.fill(0);
  const stored: StoredIdentity = { ...pub, signature, encryptedPrivateKeys: toBase64(sealed), salt: toBase64(salt), nonce: toBase64(nonce) };
  return { stored, unlocked: await unlockIdentityRecord(stored, secret, kek) };
}

/** Unwraps a stored identity with `secret`. WrongSecretError when it does not open. */
export async function unlockIdentityRecord(stored: StoredIdentity, secret: string, knownKek?: CryptoKey): Promise<UnlockedIdentity> {
  checkSecret(secret);
  const kek = knownKek ?? await deriveKeyEncryptionKey(secret, fromBase64(stored.salt, 'salt'));
  let keys: { x25519: string; ed25519: string };
  try {
    const plaintext = await subtle().decrypt({ name: 'AES-GCM', iv: fromBase64(stored.nonce, 'nonce'), additionalData: aad(stored) },
      kek, fromBase64(stored.encryptedPrivateKeys, 'encryptedPrivateKeys'));
    keys = JSON.parse(fromUtf8(new Uint8Array(plaintext)));
  } catch (cause) {
    throw new WrongSecretError(`wrong identity secret for user ${stored.userId}`, { cause });
  }
  const [encryptionPrivateKey, signingPrivateKey] = await Promise.all([
    subtle().importKey('pkcs8', fromBase64(keys.x25519, 'x25519'), { name: 'X25519' }, false, ['deriveBits']),
    subtle().importKey('pkcs8', fromBase64(keys.ed25519, 'ed25519'), { name: 'Ed25519' }, false, ['sign']),
  ]);
  return {
    userId: stored.userId, encryptionPublicKey: stored.encryptionPublicKey, signingPublicKey: stored.signingPublicKey,
    signature: stored.signature, encryptionPrivateKey, signingPrivateKey,
    fingerprint: await fingerprint(stored.encryptionPublicKey, stored.signingPublicKey),
  };
}
