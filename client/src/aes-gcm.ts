/**
 * AES-256-GCM decryption of logs behind one interface, with the fastest backend the runtime has.
 *
 *   webcrypto    globalThis.crypto.subtle (browsers, Tauri webviews, Deno, Node): the portable path
 *                and the reference; asynchronous, one call per log.
 *   node:crypto  Node's synchronous createDecipheriv (aes-gcm-node.ts): the same AES-GCM on the same
 *                CryptoKey (KeyObject.from, no raw key export, so non-extractable keys work), ~4-6x
 *                cheaper per log on Node 20 than subtle.decrypt, whose per-call cost (argument
 *                checks, a thread-pool hop, a promise) dominates for small logs.
 *
 * Contract of `decrypt`: authenticates `sealed` (ciphertext || 16-byte tag) with `nonce` (12 bytes)
 * and `aad` under `key`; resolves to the plaintext, rejects on any failure (wrong key, altered byte,
 * wrong AAD). Both backends give byte-identical results; tests/client-crypto-backends.test.ts runs
 * the same logs through both. The caller may reuse `nonce`/`aad`/`sealed`'s memory once the call
 * returned (both backends copy or consume their input synchronously).
 *
 * The backend is chosen once per process (defaultLogCipher): node:crypto when
 * `process.getBuiltinModule('node:crypto')` gives it (Node >= 20.16; no static import, so bundles for
 * browsers never see `node:`), else WebCrypto. HAEX_SYNC_CRYPTO=webcrypto forces the portable path.
 */
import { subtle } from './encoding.ts';
import { nodeLogCipher } from './aes-gcm-node.ts';

export interface LogCipher {
  readonly name: 'webcrypto' | 'node:crypto';
  decrypt(key: CryptoKey, nonce: Uint8Array<ArrayBuffer>, aad: Uint8Array<ArrayBuffer>, sealed: Uint8Array<ArrayBuffer>):
    Promise<Uint8Array>;
  /** The same, synchronously (throws instead of rejecting), where the backend is synchronous (node:crypto). */
  decryptSync?(key: CryptoKey, nonce: Uint8Array<ArrayBuffer>, aad: Uint8Array<ArrayBuffer>, sealed: Uint8Array<ArrayBuffer>): Uint8Array;
}

export const webCryptoLogCipher: LogCipher = {
  name: 'webcrypto',
  decrypt: (key, nonce, aad, sealed) => {
    try {
      return subtle().decrypt({ name: 'AES-GCM', iv: nonce, additionalData: aad }, key, sealed)
        .then((plain) => new Uint8Array(plain));
    } catch (cause) { // an implementation that throws instead of rejecting
      return Promise.reject(cause);
    }
  },
};

let chosen: LogCipher | undefined;

/** node:crypto where the runtime has it (and HAEX_SYNC_CRYPTO is not `webcrypto`), else WebCrypto. */
export function defaultLogCipher(): LogCipher {
  if (chosen) return chosen;
  const proc = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  chosen = (proc?.env?.HAEX_SYNC_CRYPTO !== 'webcrypto' && nodeLogCipher()) || webCryptoLogCipher;
  return chosen;
}
