/**
 * Sealing restored logs for their new vault (import.ts): the log format of log-crypto.ts (same AAD,
 * random 96-bit nonce, AES-256-GCM), from the data's JSON bytes as the archive holds them (no
 * parse and re-serialisation), with the archived id, haexTimestamp and record key and this
 * session's device id. node:crypto where the runtime has it (synchronous, several times cheaper per
 * small log than WebCrypto, see aes-gcm.ts), else WebCrypto; both give the same bytes' format and
 * decrypt with logDecryptor.
 */
import { subtle, toBase64 } from '../encoding.ts';
import { type EncryptedLog, LOG_NONCE_BYTES, logAad } from '../log-crypto.ts';
import { ArchiveIntegrityError } from './format.ts';
import type { ArchivedLog } from './records.ts';

interface Cipher { setAAD(aad: Uint8Array): Cipher; update(data: Uint8Array): Uint8Array; final(): Uint8Array; getAuthTag(): Uint8Array }
interface NodeCrypto {
  createCipheriv(algorithm: string, key: unknown, iv: Uint8Array, options?: { authTagLength: number }): Cipher;
  KeyObject: { from(key: CryptoKey): unknown };
}

const nodeCrypto = (): NodeCrypto | undefined => {
  try {
    const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown; env?: Record<string, string | undefined> } }).process;
    if (proc?.env?.HAEX_SYNC_CRYPTO === 'webcrypto') return undefined;
    const c = proc?.getBuiltinModule?.('node:crypto') as NodeCrypto | undefined;
    return typeof c?.createCipheriv === 'function' && typeof c.KeyObject?.from === 'function' ? c : undefined;
  } catch {
    return undefined;
  }
};

export async function sealLogs(sealing: { key: CryptoKey; generation: number; deviceId: string | null }, vaultId: string,
  logs: readonly ArchivedLog[]): Promise<EncryptedLog[]> {
  const node = nodeCrypto();
  const keyObject = node?.KeyObject.from(sealing.key);
  // The batch's nonces from one CSPRNG call per 64 KiB (getRandomValues' limit), each log its own
  // 12 bytes: one call per log cost ~4 µs, 8 % of a restore's time (W8 profile, 2026-12-07).
  const nonces = new Uint8Array(LOG_NONCE_BYTES * logs.length);
  for (let at = 0; at < nonces.length; at += 65_536) globalThis.crypto.getRandomValues(nonces.subarray(at, at + 65_536));
  return Promise.all(logs.map(async (log, i) => {
    let aad: Uint8Array<ArrayBuffer>;
    try { // validates the archived fields as a pushed log's (timestamp, record key)
      aad = logAad(vaultId, log.id, log.haexTimestamp, sealing.deviceId, log.recordKey, sealing.generation);
    } catch (cause) {
      throw new ArchiveIntegrityError('malformed', `log ${log.id}: ${(cause as Error).message}`, { cause });
    }
    const nonce = nonces.subarray(i * LOG_NONCE_BYTES, (i + 1) * LOG_NONCE_BYTES);
    let sealed: Uint8Array;
    if (node) {
      const cipher = node.createCipheriv('aes-256-gcm', keyObject, nonce, { authTagLength: 16 }).setAAD(aad);
      const head = cipher.update(log.data);
      const tail = cipher.final();
      const tag = cipher.getAuthTag();
      sealed = new Uint8Array(head.length + tail.length + tag.length);
      sealed.set(head);
      sealed.set(tail, head.length);
      sealed.set(tag, head.length + tail.length);
    } else {
      sealed = new Uint8Array(await subtle().encrypt({ name: 'AES-GCM', iv: nonce, additionalData: aad }, sealing.key, log.data as Uint8Array<ArrayBuffer>));
    }
    const out: EncryptedLog = { id: log.id, encryptedData: toBase64(sealed), nonce: toBase64(nonce), haexTimestamp: log.haexTimestamp };
    if (sealing.deviceId !== null) out.deviceId = sealing.deviceId;
    if (log.recordKey !== null) out.recordKey = log.recordKey;
    if (sealing.generation > 1) out.keyGeneration = sealing.generation;
    return out;
  }));
}
