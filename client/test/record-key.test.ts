/** Unit tests of record keys (no server): derivation, format, the v2 AAD binding, v1 compatibility. */
import { describe, expect, it } from 'vitest';
import { decryptLog, encryptChange, LogDecryptionError, logAad, logDecryptor, type StoredLog, UsageError } from '../src/index.ts';
import { fromUtf8 } from '../src/encoding.ts';
import { deriveRecordKeyKey, recordKeyFor, RECORD_KEY_INFO } from '../src/record-key.ts';
import { importVaultKey } from '../src/vault-key.ts';

const VAULT = '0b7f4c1e-5a57-4d1c-9c59-3a0f0e6f2a10';
const LOG = 'c2a1d7e4-8b3f-4e5a-9d6c-7f8e9a0b1c2d';
const raw = () => crypto.getRandomValues(new Uint8Array(32));
const stored = (log: Awaited<ReturnType<typeof encryptChange>>, sequence = 1): StoredLog =>
  ({ ...log, sequence, deviceId: log.deviceId ?? null, createdAt: '2026-11-29T00:00:00Z' });

describe('record keys', () => {
  it('are the first 128 bits of HMAC-SHA-256 under HKDF-SHA-256(vault key, info "haex-sync/record-key/v1"), base64url', async () => {
    const bytes = raw();
    const key = await importVaultKey(bytes.slice());
    // Independent computation with exportable keys, as the module doc specifies.
    const ikm = await crypto.subtle.importKey('raw', bytes, 'HKDF', false, ['deriveBits']);
    const k = await crypto.subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(32),
      info: new TextEncoder().encode(RECORD_KEY_INFO) }, ikm, 256);
    const hmac = await crypto.subtle.importKey('raw', k, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    const change = JSON.stringify(['notes', 42, 'title']);
    const mac = new Uint8Array(await crypto.subtle.sign('HMAC', hmac, new TextEncoder().encode(change))).slice(0, 16);
    const expected = Buffer.from(mac).toString('base64url');
    expect(await recordKeyFor(key, change)).toBe(expected);
    expect(expected).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect((await deriveRecordKeyKey(bytes)).extractable).toBe(false);
  });

  it('are equal for equal keys of one vault, and differ across keys and across vaults', async () => {
    const a = await importVaultKey(raw());
    const b = await importVaultKey(raw());
    expect(await recordKeyFor(a, 'k')).toBe(await recordKeyFor(a, 'k'));
    expect(await recordKeyFor(a, 'k')).not.toBe(await recordKeyFor(a, 'k2'));
    expect(await recordKeyFor(a, 'k')).not.toBe(await recordKeyFor(b, 'k'));
  });

  it('refuses an empty or ill-formed change key, and a CryptoKey made elsewhere', async () => {
    const key = await importVaultKey(raw());
    await expect(recordKeyFor(key, '')).rejects.toBeInstanceOf(UsageError);
    await expect(recordKeyFor(key, '\uD800')).rejects.toBeInstanceOf(UsageError);
    const foreign = await crypto.subtle.importKey('raw', raw(), 'AES-GCM', false, ['encrypt', 'decrypt']);
    await expect(encryptChange(foreign, VAULT, { data: 1, haexTimestamp: 't', key: 'k' })).rejects.toBeInstanceOf(UsageError);
  });
});

describe('log AAD v2', () => {
  it('is "haex-sync/log/v2\\0vault\\0log\\0timestamp\\0device\\0recordKey"; without a record key it stays v1', () => {
    expect(fromUtf8(logAad(VAULT, LOG, 't', 'd', 'rk_-1'))).toBe(`haex-sync/log/v2\0${VAULT}\0${LOG}\0t\0d\0rk_-1`);
    expect(fromUtf8(logAad(VAULT, LOG, 't', null, null))).toBe(`haex-sync/log/v1\0${VAULT}\0${LOG}\0t\0`);
    expect(() => logAad(VAULT, LOG, 't', null, 'not=base64url')).toThrow(UsageError);
  });

  it('a change with a key carries its record key and decrypts with it; the server cannot move, strip or add one', async () => {
    const key = await importVaultKey(raw());
    const log = stored(await encryptChange(key, VAULT, { id: LOG, data: { v: 1 }, haexTimestamp: 't', key: 'cell' }), 5);
    expect(log.recordKey).toBe(await recordKeyFor(key, 'cell'));
    expect(await decryptLog(key, VAULT, log)).toMatchObject({ data: { v: 1 }, recordKey: log.recordKey });
    const plain = stored(await encryptChange(key, VAULT, { id: LOG, data: { v: 2 }, haexTimestamp: 't' }), 6);
    expect(plain.recordKey).toBeUndefined();
    const variants: Array<[string, StoredLog]> = [
      ['moved to another record key', { ...log, recordKey: await recordKeyFor(key, 'other cell') }],
      ['record key stripped', { ...log, recordKey: null }],
      ['record key added to a v1 log', { ...plain, recordKey: log.recordKey }],
      ['record key not base64url', { ...log, recordKey: 'a+b' }],
    ];
    for (const [what, variant] of variants) {
      await expect(decryptLog(key, VAULT, variant), what).rejects.toBeInstanceOf(LogDecryptionError);
      const [page] = logDecryptor(key, VAULT).page([variant]);
      await expect(page, what).rejects.toBeInstanceOf(LogDecryptionError);
    }
  });

  it('a page mixing v1 logs (no record key) and v2 logs decrypts log by log as decryptLog does', async () => {
    const key = await importVaultKey(raw());
    const logs = await Promise.all(Array.from({ length: 8 }, (_, i) => encryptChange(key, VAULT,
      { data: i, haexTimestamp: `t${i}`, deviceId: i % 3 ? 'dev' : null, ...(i % 2 ? { key: `k${i}` } : {}) })));
    const page = logs.map((l, i) => stored(l, i + 1));
    const out = await Promise.all(logDecryptor(key, VAULT).page(page));
    expect(out.map((l) => l.data)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(out.map((l) => l.recordKey !== null)).toEqual([false, true, false, true, false, true, false, true]);
    for (const [i, log] of page.entries()) expect(await decryptLog(key, VAULT, log)).toEqual(out[i]);
  });
});
