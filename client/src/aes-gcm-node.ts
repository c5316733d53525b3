/**
 * The node:crypto backend of aes-gcm.ts (see there for the contract). Loaded without a static
 * `import 'node:crypto'` (process.getBuiltinModule), so this module is harmless in browsers, Tauri
 * webviews and Deno: there nodeLogCipher() answers undefined and WebCrypto is used.
 *
 * Per log: createDecipheriv with the key's KeyObject (KeyObject.from(CryptoKey), cached per key in
 * a WeakMap), setAAD, setAuthTag, update, final; all synchronous. A failed authentication throws in
 * final() and is turned into a rejected promise, as WebCrypto rejects.
 */
import type { LogCipher } from './aes-gcm.ts';

interface Decipher {
  setAAD(aad: Uint8Array): Decipher;
  setAuthTag(tag: Uint8Array): Decipher;
  update(data: Uint8Array): Uint8Array;
  final(): Uint8Array;
}
interface NodeCrypto {
  createDecipheriv(algorithm: string, key: unknown, iv: Uint8Array, options?: { authTagLength: number }): Decipher;
  KeyObject: { from(key: CryptoKey): unknown };
}

const TAG_BYTES = 16;

/** The node:crypto backend, or undefined where the runtime has no node:crypto. */
export function nodeLogCipher(): LogCipher | undefined {
  let crypto: NodeCrypto | undefined;
  try {
    const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
    crypto = proc?.getBuiltinModule?.('node:crypto') as NodeCrypto | undefined;
  } catch {
    return undefined;
  }
  if (typeof crypto?.createDecipheriv !== 'function' || typeof crypto.KeyObject?.from !== 'function') return undefined;
  const { createDecipheriv, KeyObject } = crypto;
  const keys = new WeakMap<CryptoKey, unknown>();
  const keyObject = (key: CryptoKey) => {
    let object = keys.get(key);
    if (object === undefined) {
      if (key.algorithm?.name !== 'AES-GCM' || !key.usages.includes('decrypt')) {
        throw new TypeError('the key is not an AES-GCM decryption key');
      }
      object = KeyObject.from(key);
      keys.set(key, object);
    }
    return object;
  };
  const decryptSync: NonNullable<LogCipher['decryptSync']> = (key, nonce, aad, sealed) => {
    if (sealed.length < TAG_BYTES) throw new Error('ciphertext shorter than its tag');
    const bits = (key.algorithm as { length?: number }).length ?? 256;
    const decipher = createDecipheriv(`aes-${bits}-gcm`, keyObject(key), nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    const head = decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES));
    const tail = decipher.final();
    if (tail.length === 0) return head;
    const out = new Uint8Array(head.length + tail.length);
    out.set(head);
    out.set(tail, head.length);
    return out;
  };
  return {
    name: 'node:crypto',
    decryptSync,
    decrypt(key, nonce, aad, sealed) {
      try {
        return Promise.resolve(decryptSync(key, nonce, aad, sealed));
      } catch (cause) {
        return Promise.reject(cause);
      }
    },
  };
}
