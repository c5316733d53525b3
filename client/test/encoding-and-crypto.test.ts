/** Unit tests of the client library's encoding and crypto without a server: base64 and uuids, AAD, vault key wrap, log encryption. */
import { describe, expect, it } from 'vitest';
import { decryptLog, encryptChange, LogDecryptionError, logAad, MAX_PLAINTEXT_BYTES, type StoredLog, UsageError, WrongPasswordError } from '../src/index.ts';
import { canonicalUuid, fromBase64, fromUtf8, toBase64 } from '../src/encoding.ts';
import { createVaultKey, rewrapVaultKey, unwrapVaultKey, vaultKeyAad } from '../src/vault-key.ts';

const VAULT = '0b7f4c1e-5a57-4d1c-9c59-3a0f0e6f2a10';
const OTHER_VAULT = '9e0c3b1a-2d4f-4a6b-8c7d-1e2f3a4b5c6d';
const LOG = 'c2a1d7e4-8b3f-4e5a-9d6c-7f8e9a0b1c2d';

async function testKey(): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', crypto.getRandomValues(new Uint8Array(32)), 'AES-GCM', false, ['encrypt', 'decrypt']);
}
const stored = (log: Awaited<ReturnType<typeof encryptChange>>, sequence = 1): StoredLog =>
  ({ ...log, sequence, deviceId: log.deviceId ?? null, createdAt: '2026-11-27T00:00:00Z' });

describe('encoding', () => {
  it('base64 round-trips every byte value and large buffers, padded and strict', () => {
    const all = new Uint8Array(256).map((_, i) => i);
    expect(fromBase64(toBase64(all))).toEqual(all);
    const big = new Uint8Array(300_001).map((_, i) => (i * 7919) & 255);
    expect(fromBase64(toBase64(big))).toEqual(big);
    expect(toBase64(new Uint8Array([1]))).toBe('AQ==');
    expect(toBase64(new Uint8Array())).toBe('');
    expect(() => fromBase64('AQ')).toThrow(UsageError); // unpadded
    expect(() => fromBase64('A-_=')).toThrow(UsageError); // url alphabet
    for (const bad of ['====', 'A===', 'AA=A', '=AAA', 'AAA\u00e9', 'AA\u0100=', 'AAAA AAA', 'AAAA\n', 'QQ==QQ==']) {
      expect(() => fromBase64(bad), JSON.stringify(bad)).toThrow(UsageError);
    }
    // the table decoder agrees with atob on every length and on non-zero trailing bits (as before)
    for (let n = 0; n < 40; n++) {
      const bytes = crypto.getRandomValues(new Uint8Array(n));
      expect(fromBase64(toBase64(bytes))).toEqual(bytes);
    }
    for (const lax of ['AB==', 'AAB=']) expect(Array.from(fromBase64(lax))).toEqual(Array.from(atob(lax), (c) => c.charCodeAt(0)));
  });
  it('uuids are canonical lower case', () => {
    expect(canonicalUuid(VAULT.toUpperCase())).toBe(VAULT);
    expect(() => canonicalUuid('not-a-uuid')).toThrow(UsageError);
  });
});

describe('associated data', () => {
  it('log AAD is "haex-sync/log/v1\\0vault\\0log\\0timestamp\\0device"', () => {
    expect(fromUtf8(logAad(VAULT.toUpperCase(), LOG, '2026-11-27T00:00:00.000Z-0001-dev1', 'dev1')))
      .toBe(`haex-sync/log/v1\0${VAULT}\0${LOG}\x002026-11-27T00:00:00.000Z-0001-dev1\0dev1`);
    expect(fromUtf8(logAad(VAULT, LOG, 't', null))).toBe(`haex-sync/log/v1\0${VAULT}\0${LOG}\0t\0`);
  });
  it('refuses fields that would make the encoding ambiguous or exceed the server limits', () => {
    expect(() => logAad(VAULT, LOG, 'a\0b')).toThrow(UsageError);
    expect(() => logAad(VAULT, LOG, '')).toThrow(UsageError);
    expect(() => logAad(VAULT, LOG, 'x'.repeat(129))).toThrow(UsageError);
    expect(() => logAad(VAULT, LOG, 't', 'd'.repeat(129))).toThrow(UsageError);
    expect(() => logAad(VAULT, LOG, '\uD800')).toThrow(UsageError);
  });
  it('vault key AAD binds the vault id', () => {
    expect(fromUtf8(vaultKeyAad(VAULT))).toBe(`haex-sync/vault-key/v1\0${VAULT}`);
  });
});

describe('vault key wrap (PBKDF2-SHA256 600,000 + AES-256-GCM)', () => {
  it('wraps to the documented sizes, unwraps with the password, and refuses a wrong password or another vault', async () => {
    const started = performance.now();
    const { key, wrapped } = await createVaultKey(VAULT, 'correct horse battery staple');
    const pbkdf2Ms = performance.now() - started;
    console.log(`PBKDF2-SHA256 600k + wrap: ${pbkdf2Ms.toFixed(0)} ms`);
    expect(fromBase64(wrapped.salt)).toHaveLength(32);
    expect(fromBase64(wrapped.nonce)).toHaveLength(12);
    expect(fromBase64(wrapped.encryptedVaultKey)).toHaveLength(48);
    expect(key.extractable).toBe(false);

    const unwrapped = await unwrapVaultKey(VAULT, wrapped, 'correct horse battery staple');
    const log = await encryptChange(key, VAULT, { id: LOG, data: { a: 1 }, haexTimestamp: 't1' });
    expect((await decryptLog(unwrapped, VAULT, stored(log))).data).toEqual({ a: 1 });

    await expect(unwrapVaultKey(VAULT, wrapped, 'wrong')).rejects.toBeInstanceOf(WrongPasswordError);
    await expect(unwrapVaultKey(OTHER_VAULT, wrapped, 'correct horse battery staple')).rejects.toBeInstanceOf(WrongPasswordError);
  });
  it('a password change re-wraps the same key with a fresh salt and nonce; NFC and NFD passwords are the same', async () => {
    const nfc = 'caf\u00e9';
    const nfd = 'cafe\u0301';
    const { key, wrapped } = await createVaultKey(VAULT, nfc);
    const rewrapped = await rewrapVaultKey(VAULT, wrapped, nfd, 'new password');
    expect(rewrapped.salt).not.toBe(wrapped.salt);
    expect(rewrapped.nonce).not.toBe(wrapped.nonce);
    const log = await encryptChange(key, VAULT, { id: LOG, data: 'x', haexTimestamp: 't' });
    const again = await unwrapVaultKey(VAULT, rewrapped, 'new password');
    expect((await decryptLog(again, VAULT, stored(log))).data).toBe('x');
    await expect(rewrapVaultKey(VAULT, wrapped, 'nope', 'new')).rejects.toBeInstanceOf(WrongPasswordError);
  });
});

describe('log encryption', () => {
  it('round-trips any JSON value with a fresh nonce each time', async () => {
    const key = await testKey();
    for (const data of [null, 0, 'ü€😀', [1, { b: [true] }], { nested: { deep: 'x'.repeat(1000) } }]) {
      const log = await encryptChange(key, VAULT, { data, haexTimestamp: 'hlc-1', deviceId: 'dev' });
      expect((await decryptLog(key, VAULT, stored(log))).data).toEqual(data);
    }
    const a = await encryptChange(key, VAULT, { id: LOG, data: 1, haexTimestamp: 't' });
    const b = await encryptChange(key, VAULT, { id: LOG, data: 1, haexTimestamp: 't' });
    expect(a.nonce).not.toBe(b.nonce);
    expect(a.encryptedData).not.toBe(b.encryptedData);
  });
  it('any alteration -> LogDecryptionError naming the log and its sequence', async () => {
    const key = await testKey();
    const log = stored(await encryptChange(key, VAULT, { id: LOG, data: { secret: 1 }, haexTimestamp: 't1', deviceId: 'd1' }), 7);
    const bytes = fromBase64(log.encryptedData);
    bytes[0]! ^= 1;
    const variants: Array<[string, StoredLog, string]> = [
      ['ciphertext', { ...log, encryptedData: toBase64(bytes) }, VAULT],
      ['nonce', { ...log, nonce: toBase64(new Uint8Array(12)) }, VAULT],
      ['timestamp', { ...log, haexTimestamp: 't2' }, VAULT],
      ['device', { ...log, deviceId: 'd2' }, VAULT],
      ['id', { ...log, id: crypto.randomUUID() }, VAULT],
      ['vault', log, OTHER_VAULT],
      ['truncated', { ...log, encryptedData: log.encryptedData.slice(0, 8) }, VAULT],
      ['garbage', { ...log, encryptedData: 'not base64!' }, VAULT],
    ];
    for (const [what, variant, vault] of variants) {
      const error = await decryptLog(key, vault, variant).then(() => undefined, (e: unknown) => e);
      expect(error, what).toBeInstanceOf(LogDecryptionError);
      expect((error as LogDecryptionError).logId).toBe(variant.id);
      expect((error as LogDecryptionError).sequence).toBe(7);
      expect((error as Error).message).toContain(variant.id);
    }
    await expect(decryptLog(await testKey(), VAULT, log)).rejects.toBeInstanceOf(LogDecryptionError);
  });
  it('a page decryptor (shared AAD prefix and buffer) matches decryptLog log by log', async () => {
    const key = await testKey();
    const logs = await Promise.all(Array.from({ length: 6 }, (_, i) =>
      encryptChange(key, VAULT, { data: { i, s: 'é'.repeat(i) }, haexTimestamp: `t${i}\u00e9`, deviceId: i % 2 ? `d${i}` : null })));
    const page = logs.map((l, i) => stored(l, i + 1));
    page[1] = { ...page[1]!, id: page[1]!.id.toUpperCase() }; // canonicalised like decryptLog would: still authentic
    page[2] = { ...page[2]!, haexTimestamp: 'rewritten' };
    page[3] = { ...page[3]!, nonce: 'AAAAAAAAAAAAAAAAAAAA' }; // 15 bytes
    page[4] = { ...page[4]!, encryptedData: 'not base64!' };
    const { logDecryptor } = await import('../src/log-crypto.ts');
    const results = await Promise.allSettled(logDecryptor(key, VAULT).page(page));
    const single = await Promise.allSettled(page.map((l) => decryptLog(key, VAULT, l)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'rejected', 'rejected', 'fulfilled']);
    expect(single.map((r) => r.status)).toEqual(results.map((r) => r.status));
    expect((results[5] as PromiseFulfilledResult<{ data: unknown }>).value.data).toEqual({ i: 5, s: 'ééééé' });
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(LogDecryptionError);
    expect(((results[3] as PromiseRejectedResult).reason as Error).message).toContain('nonce has 15 bytes');
    // an invalid vault id fails each log (as LogDecryptionError), not the call
    const bad = await Promise.allSettled(logDecryptor(key, 'not-a-vault').page(page.slice(0, 1)));
    expect((bad[0] as PromiseRejectedResult).reason).toBeInstanceOf(LogDecryptionError);
  });
  it('refuses changes too large for one log and non-JSON data before sending', async () => {
    const key = await testKey();
    const fits = await encryptChange(key, VAULT, { data: 'x'.repeat(MAX_PLAINTEXT_BYTES - 2), haexTimestamp: 't' });
    expect(fits.encryptedData.length).toBeLessThanOrEqual(524_288);
    await expect(encryptChange(key, VAULT, { data: 'x'.repeat(MAX_PLAINTEXT_BYTES - 1), haexTimestamp: 't' }))
      .rejects.toBeInstanceOf(UsageError);
    await expect(encryptChange(key, VAULT, { data: undefined, haexTimestamp: 't' })).rejects.toBeInstanceOf(UsageError);
  });
  it('5000 small and 20 large logs decrypt back to exactly what was encrypted (throughput printed)', async () => {
    const key = await testKey();
    const small = Array.from({ length: 5000 }, (_, i) => ({ data: { table: 'items', row: i, value: 'v'.repeat(200) }, haexTimestamp: `hlc-${i}` }));
    let t = performance.now();
    const logs = await Promise.all(small.map((c) => encryptChange(key, VAULT, c)));
    const encMs = performance.now() - t;
    t = performance.now();
    const decrypted = await Promise.all(logs.map((l, i) => decryptLog(key, VAULT, stored(l, i + 1))));
    const decMs = performance.now() - t;
    expect(decrypted.map((d) => d.data)).toEqual(small.map((c) => c.data));
    expect(decrypted.map((d) => [d.id, d.sequence, d.haexTimestamp])).toEqual(logs.map((l, i) => [l.id, i + 1, `hlc-${i}`]));
    expect(new Set(logs.map((l) => l.nonce)).size).toBe(5000); // a fresh nonce per encryption
    const big = await encryptChange(key, VAULT, { data: 'y'.repeat(380_000), haexTimestamp: 't' });
    t = performance.now();
    for (let i = 0; i < 20; i++) await encryptChange(key, VAULT, { data: 'y'.repeat(380_000), haexTimestamp: 't' });
    const bigEncMs = performance.now() - t;
    t = performance.now();
    for (let i = 0; i < 20; i++) expect((await decryptLog(key, VAULT, stored(big))).data).toBe('y'.repeat(380_000));
    const bigDecMs = performance.now() - t;
    console.log(`5000 small logs (~250 B): encrypt ${(5000 / encMs * 1000).toFixed(0)} logs/s, decrypt ${(5000 / decMs * 1000).toFixed(0)} logs/s; `
      + `380 kB logs: encrypt ${(20 * 0.38 / bigEncMs * 1000).toFixed(1)} MB/s, decrypt ${(20 * 0.38 / bigDecMs * 1000).toFixed(1)} MB/s (incl. JSON + base64)`);
  });
});
