/** The AES-GCM backends of aes-gcm.ts: node:crypto (the default on Node) and WebCrypto (the portable path) agree. */
import { describe, expect, it } from 'vitest';
import { defaultLogCipher, webCryptoLogCipher } from '../src/aes-gcm.ts';
import { nodeLogCipher } from '../src/aes-gcm-node.ts';
import { LogDecryptionError } from '../src/errors.ts';
import { encryptChange, logDecryptor, type StoredLog } from '../src/log-crypto.ts';

const VAULT = '0b7f4c1e-5a57-4d1c-9c59-3a0f0e6f2a10';
const nodeCipher = nodeLogCipher()!;

describe('AES-GCM backends', () => {
  it('on Node the default is node:crypto; HAEX_SYNC_CRYPTO=webcrypto is honoured by the chooser', () => {
    expect(nodeCipher?.name).toBe('node:crypto');
    expect(defaultLogCipher().name).toBe(process.env.HAEX_SYNC_CRYPTO === 'webcrypto' ? 'webcrypto' : 'node:crypto');
  });

  it('both decrypt the same page (non-extractable key) to the same logs and refuse the same altered ones', async () => {
    const key = await crypto.subtle.importKey('raw', crypto.getRandomValues(new Uint8Array(32)), 'AES-GCM', false, ['encrypt', 'decrypt']);
    const logs = await Promise.all(Array.from({ length: 40 }, (_, i) => encryptChange(key, VAULT, {
      data: { i, text: 'ü€😀'.repeat(i), big: 'x'.repeat(i * 100) }, haexTimestamp: `t${i}`, deviceId: i % 3 ? `d${i}` : null,
    })));
    const page: StoredLog[] = logs.map((l, i) => ({ ...l, sequence: i + 1, deviceId: l.deviceId ?? null, createdAt: '2026-12-02T00:00:00Z' }));
    const flip = (b64: string) => (b64[0] === 'A' ? 'B' : 'A') + b64.slice(1);
    page[5] = { ...page[5]!, encryptedData: flip(page[5]!.encryptedData) }; // ciphertext
    page[9] = { ...page[9]!, haexTimestamp: 'rewritten' }; // AAD
    page[12] = { ...page[12]!, encryptedData: page[12]!.encryptedData.slice(0, 12) }; // shorter than a tag
    page[16] = { ...page[16]!, recordKey: 'c29tZS1rZXk' }; // a v1 log read as v2
    const run = async (cipher: typeof nodeCipher) => (await Promise.allSettled(logDecryptor(key, VAULT, cipher).page(page)))
      .map((r) => (r.status === 'fulfilled' ? r.value : r.reason instanceof LogDecryptionError ? `refused ${r.reason.logId}` : r.reason));
    const [viaNode, viaWeb] = [await run(nodeCipher), await run(webCryptoLogCipher)];
    expect(viaNode).toEqual(viaWeb);
    expect(viaNode.filter((r) => typeof r === 'string')).toEqual([5, 9, 12, 16].map((i) => `refused ${page[i]!.id}`));
    expect((viaNode[39] as { data: unknown }).data).toEqual({ i: 39, text: 'ü€😀'.repeat(39), big: 'x'.repeat(3900) });
  });

  it('another key fails authentication on node:crypto as on WebCrypto', async () => {
    const [a, b] = await Promise.all([0, 1].map(() =>
      crypto.subtle.importKey('raw', crypto.getRandomValues(new Uint8Array(32)), 'AES-GCM', false, ['encrypt', 'decrypt'])));
    const log = await encryptChange(a!, VAULT, { data: 1, haexTimestamp: 't' });
    const stored: StoredLog = { ...log, sequence: 1, deviceId: null, createdAt: '2026-12-02T00:00:00Z' };
    for (const cipher of [nodeCipher, webCryptoLogCipher]) {
      await expect(logDecryptor(b!, VAULT, cipher).one(stored), cipher.name).rejects.toBeInstanceOf(LogDecryptionError);
      await expect(logDecryptor(a!, VAULT, cipher).one(stored), cipher.name).resolves.toMatchObject({ data: 1 });
    }
  });
});
