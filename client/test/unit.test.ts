/** Unit tests of the client library without a server: encoding, AAD, crypto, batching, backoff, pull logic. */
import { describe, expect, it } from 'vitest';
import {
  backoffDelay, decryptLog, encryptChange, LogDecryptionError, logAad, MAX_PLAINTEXT_BYTES, planBatches, pullPages,
  pushChanges, SequenceGapError, TransportError, UsageError, ValidationError, withRetry, WrongPasswordError,
  ConflictError, CursorAheadError, VaultDeletedError, type PullResult, type StoredLog, type SyncTransport,
} from '../src/index.ts';
import { canonicalUuid, fromBase64, fromUtf8, toBase64 } from '../src/encoding.ts';
import { ApiKeyError, apiKeyCode, errorFromStatus, parseRetryAfter, SessionRevokedError, UnauthorizedError } from '../src/errors.ts';
import { startLive } from '../src/live.ts';
import { HaexSyncClient } from '../src/sync.ts';
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

describe('batching', () => {
  const log = (chars: number, i = 0) => ({ id: String(i), encryptedData: 'A'.repeat(chars) });
  it('by count: at most maxCount per batch, order kept', () => {
    const logs = Array.from({ length: 2500 }, (_, i) => log(4, i));
    const batches = planBatches(logs);
    expect(batches.map((b) => b.length)).toEqual([1000, 1000, 500]);
    expect(batches.flat().map((l) => l.id)).toEqual(logs.map((l) => l.id));
    expect(planBatches(logs, { maxCount: 7 }).every((b) => b.length <= 7)).toBe(true);
  });
  it('by bytes: each batch within maxBytes unless one log alone exceeds it; default 4 MiB', () => {
    const logs = Array.from({ length: 10 }, (_, i) => log(400_000, i));
    expect(planBatches(logs, { maxBytes: 1_000_000 }).map((b) => b.length)).toEqual([2, 2, 2, 2, 2]);
    const big = Array.from({ length: 40 }, (_, i) => log(524_288, i));
    const batches = planBatches(big);
    expect(batches.every((b) => b.reduce((n, l) => n + l.encryptedData.length, 0) <= 4 * 1024 * 1024)).toBe(true);
    expect(batches.map((b) => b.length)).toEqual([8, 8, 8, 8, 8]);
    expect(planBatches([log(10), log(100), log(10)], { maxBytes: 50 }).map((b) => b.length)).toEqual([1, 1, 1]);
    expect(planBatches([])).toEqual([]);
  });
  it('refuses limits beyond the server\'s', () => {
    expect(() => planBatches([], { maxCount: 1001 })).toThrow(UsageError);
    expect(() => planBatches([], { maxBytes: 16 * 1024 * 1024 + 1 })).toThrow(UsageError);
    expect(() => planBatches([], { maxCount: 0 })).toThrow(UsageError);
  });
});

describe('backoff and retries', () => {
  it('exponential with equal jitter, capped, at least Retry-After (itself capped)', () => {
    const lo = { random: () => 0 };
    const hi = { random: () => 0.999999 };
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, lo))).toEqual([125, 250, 500, 1000]);
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, hi))).toEqual([250, 500, 1000, 2000]);
    expect(backoffDelay(20, hi)).toBe(30_000);
    expect(backoffDelay(20, lo)).toBe(15_000);
    expect(backoffDelay(1, lo, 5000)).toBe(5000);
    expect(backoffDelay(1, lo, 10 * 60_000)).toBe(120_000);
  });
  it('Retry-After as seconds or HTTP date', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter(new Date(Date.now() + 10_000).toUTCString(), Date.now())).toBeGreaterThan(8000);
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
  it('maps statuses: 502-504/429/408/network retryable, 500 and other 4xx not; 409 codes to their errors', () => {
    for (const s of [0, 408, 429, 502, 503, 504]) expect((errorFromStatus(s, 'x', 'm') as TransportError).retryable).toBe(true);
    for (const s of [401, 403, 500]) expect((errorFromStatus(s, 'x', 'm') as TransportError).retryable).toBe(false);
    expect(errorFromStatus(409, 'vault_deleted', 'm')).toBeInstanceOf(VaultDeletedError);
    expect(errorFromStatus(409, 'cursor_ahead', 'm')).toBeInstanceOf(CursorAheadError);
    expect(errorFromStatus(409, 'conflict', 'm')).toBeInstanceOf(ConflictError);
    expect(errorFromStatus(409, 'conflict', 'm')).not.toBeInstanceOf(VaultDeletedError);
    expect(errorFromStatus(400, 'x', 'm', 'logs[0].nonce')).toBeInstanceOf(ValidationError);
    expect((errorFromStatus(413, 'x', 'm', 'logs') as ValidationError).field).toBe('logs');
  });
  it('retries retryable errors with the computed waits, never 4xx, and gives up after maxAttempts', async () => {
    const waits: number[] = [];
    const policy = { random: () => 0, sleep: async (ms: number) => { waits.push(ms); } };
    let calls = 0;
    const result = await withRetry(async () => {
      calls++;
      if (calls === 1) throw new TransportError('down', 503, 'x', true);
      if (calls === 2) throw new TransportError('slow down', 429, 'x', true, 2000);
      return 'ok';
    }, policy);
    expect(result).toBe('ok');
    expect(waits).toEqual([125, 2000]);

    calls = 0;
    await expect(withRetry(async () => { calls++; throw new ValidationError('bad', 400, 'PT400', 'x'); }, policy))
      .rejects.toBeInstanceOf(ValidationError);
    expect(calls).toBe(1);

    calls = 0;
    await expect(withRetry(async () => { calls++; throw new TransportError('down', 0, 'network', true); },
      { ...policy, maxAttempts: 4 })).rejects.toBeInstanceOf(TransportError);
    expect(calls).toBe(4);
  });
});

/** An in-memory server with the real semantics (ids stored once, gap-free sequences). */
function memoryTransport(): SyncTransport & { rows: StoredLog[]; pulls: number } {
  const rows: StoredLog[] = [];
  const t = {
    name: 'memory', rows, pulls: 0,
    async push(_vaultId: string, logs: Array<{ id: string; encryptedData: string; nonce: string; haexTimestamp: string; deviceId?: string | null }>) {
      const out = logs.map((l) => {
        const existing = rows.find((r) => r.id === l.id);
        if (existing) return { id: l.id, sequence: existing.sequence, duplicate: true };
        const row = { ...l, deviceId: l.deviceId ?? null, sequence: rows.length + 1, createdAt: new Date().toISOString() };
        rows.push(row);
        return { id: l.id, sequence: row.sequence, duplicate: false };
      });
      return { lastSequence: rows.length, logs: out };
    },
    async pull(_vaultId: string, after: number, limit: number) {
      t.pulls++;
      const logs = rows.filter((r) => r.sequence > after).slice(0, limit);
      const lastSequence = rows.length;
      const nextSequence = logs.length ? logs.at(-1)!.sequence : after;
      return { logs, hasMore: nextSequence < lastSequence, nextSequence, lastSequence };
    },
  } as unknown as SyncTransport & { rows: StoredLog[]; pulls: number };
  return t;
}

describe('push and pull logic (in-memory server)', () => {
  it('a push whose response is lost is retried with the same ids and stored once', async () => {
    const key = await testKey();
    const server = memoryTransport();
    const realPush = server.push.bind(server);
    const sentIds: string[][] = [];
    let lost = 0;
    server.push = async (vaultId, logs) => {
      sentIds.push(logs.map((l) => l.id));
      const answer = await realPush(vaultId, logs);
      if (lost++ === 0) throw new TransportError('connection reset', 0, 'network', true);
      return answer;
    };
    const changes = Array.from({ length: 30 }, (_, i) => ({ data: i, haexTimestamp: `t${i}` }));
    const result = await pushChanges(server, key, VAULT, changes, { maxCount: 10, retry: { sleep: async () => {} } });
    expect(sentIds[0]).toEqual(sentIds[1]);
    expect(server.rows).toHaveLength(30);
    expect(result.logs.map((l) => l.sequence)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(result.logs.slice(0, 10).every((l) => l.duplicate)).toBe(true);
  });
  it('pulls lazily (one page prefetched, no more), one page per request, and detects gaps and lies', async () => {
    const key = await testKey();
    const server = memoryTransport();
    await pushChanges(server, key, VAULT, Array.from({ length: 25 }, (_, i) => ({ data: i, haexTimestamp: `t${i}` })));
    const pages = pullPages(server, key, VAULT, { pageSize: 10 });
    const first = await pages.next();
    // the page after the one handed over is already requested (prefetch), nothing beyond it
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(server.pulls).toBe(2);
    expect(first.value).toMatchObject({ nextSequence: 10, hasMore: true });
    const rest = [];
    for await (const page of pages) rest.push(page);
    expect(rest.map((p) => p.nextSequence)).toEqual([20, 25]);
    expect(rest[1]!.logs.map((l) => l.data)).toEqual([20, 21, 22, 23, 24]);

    // from a cursor
    const after = [];
    for await (const page of pullPages(server, key, VAULT, { afterSequence: 22 })) after.push(...page.logs.map((l) => l.sequence));
    expect(after).toEqual([23, 24, 25]);

    // a server that skips sequence 12
    const skipping = { ...server, pull: async (v: string, a: number, l: number) => {
      const page = await server.pull(v, a, l);
      return { ...page, logs: page.logs.filter((r) => r.sequence !== 12) };
    } };
    const seen: number[] = [];
    await expect((async () => { for await (const p of pullPages(skipping, key, VAULT, { pageSize: 10 })) seen.push(p.nextSequence); })())
      .rejects.toBeInstanceOf(SequenceGapError);
    expect(seen).toEqual([10]);
    // a server that claims more but returns nothing
    const liar = { ...server, pull: async () => ({ logs: [], hasMore: true, nextSequence: 0, lastSequence: 25 }) };
    await expect(pullPages(liar, key, VAULT).next()).rejects.toBeInstanceOf(SequenceGapError);
    // page states that do not fit the logs: "no more" before the end, a cursor behind the page or past the end
    for (const lie of [
      (p: PullResult) => ({ ...p, hasMore: false }),
      (p: PullResult) => ({ ...p, nextSequence: p.nextSequence - 1 }),
      (p: PullResult) => ({ ...p, nextSequence: p.lastSequence + 1, hasMore: false }),
    ]) {
      const lying = { ...server, pull: async (v: string, a: number, l: number) => lie(await server.pull(v, a, l)) };
      await expect(pullPages(lying, key, VAULT, { pageSize: 10 }).next()).rejects.toBeInstanceOf(SequenceGapError);
    }
    // a page without logs that moves the cursor to the vault's end (a tail without logs, compacted) is handed over
    const tail = { ...server, pull: async () => ({ logs: [], hasMore: false, nextSequence: 30, lastSequence: 30, compactedThrough: 30 }) };
    const tailPages = [];
    for await (const page of pullPages(tail, key, VAULT, { afterSequence: 25 })) tailPages.push(page);
    expect(tailPages).toEqual([{ logs: [], nextSequence: 30, hasMore: false, lastSequence: 30 }]);
    // ... but a tail beyond compactedThrough is lost logs, not compaction
    const lostTail = { ...server, pull: async () => ({ logs: [], hasMore: false, nextSequence: 30, lastSequence: 30, compactedThrough: 27 }) };
    await expect((async () => { for await (const _p of pullPages(lostTail, key, VAULT, { afterSequence: 25 })) { /* consume */ } })())
      .rejects.toBeInstanceOf(SequenceGapError);
    // a tampered log stops the iteration with the log's id and sequence
    server.rows[14] = { ...server.rows[14]!, haexTimestamp: 'rewritten' };
    const error = await (async () => { for await (const _ of pullPages(server, key, VAULT, { pageSize: 10 })) { /* */ } })()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LogDecryptionError);
    expect((error as LogDecryptionError).sequence).toBe(15);
  });
});

describe('options (issue 28)', () => {
  const transport = { name: 'none' } as unknown as SyncTransport;

  it('HaexSyncClient.create refuses an unknown option with a UsageError naming it', () => {
    expect(() => HaexSyncClient.create({ transport, deviceNmae: 'laptop' } as never))
      .toThrow(new UsageError('HaexSyncClient.create: unknown option "deviceNmae" (known: supabase, transport, deviceName, deviceId, retry, push, '
        + 'pageSize, autoCompact, compaction, files)'));
    expect(() => HaexSyncClient.create({ transport, device: 'x', name: 'y' } as never)).toThrow(/unknown options "device", "name"/);
    expect(() => HaexSyncClient.create({ transport, deviceName: 'laptop', deviceId: 'custom', pageSize: 10 })).not.toThrow();
  });

  it('vault.live refuses an unknown option with a UsageError naming it', () => {
    expect(() => startLive({ vaultId: VAULT, sync: async () => ({ cursor: 0 }) }, {} as never,
      { cursor: 0, apply: () => {}, onStat: () => {} } as never)).toThrow(/^live: unknown option "onStat"/);
  });
});

describe('401 answers (issue 28)', () => {
  it('maps the gateway\'s refused apikey to ApiKeyError, session_revoked to SessionRevokedError, any other 401 to UnauthorizedError', () => {
    expect(errorFromStatus(401, apiKeyCode(401, 'Unregistered API key')!, 'x')).toBeInstanceOf(ApiKeyError);
    expect(errorFromStatus(401, apiKeyCode(401, 'Invalid API key')!, 'x')).toBeInstanceOf(ApiKeyError);
    expect(apiKeyCode(403, 'Invalid API key')).toBeUndefined();
    expect(errorFromStatus(401, 'session_revoked', 'x')).toBeInstanceOf(SessionRevokedError);
    const other = errorFromStatus(401, 'PGRST301', 'x');
    expect(other).toBeInstanceOf(UnauthorizedError);
    expect({ retryable: other instanceof TransportError && other.retryable }).toEqual({ retryable: false });
  });
});

describe('live sync and refused tokens (issue 28)', () => {
  /** Just enough of supabase-js for live(): channels that subscribe at once, a socket to release. */
  function fakeSupabase() {
    const channels: object[] = [];
    const channel = () => {
      const c = { on: () => c, subscribe: (cb: (status: string) => void) => { setTimeout(() => cb('SUBSCRIBED'), 0); return c; } };
      channels.push(c);
      return c;
    };
    return {
      channel, removeChannel: async (c: object) => { channels.splice(channels.indexOf(c), 1); return 'ok'; },
      realtime: { setAuth: async () => {}, getChannels: () => channels, disconnect: async () => 'ok' },
    };
  }

  /** A live sync whose every pull fails with `failure`; resolves once it has reported one error. */
  async function liveFailingWith(failure: Error) {
    const errors: unknown[] = [];
    const live = startLive({ vaultId: VAULT, sync: async () => { throw failure; } }, fakeSupabase() as never,
      { cursor: 0, apply: () => {}, checkIntervalMs: 0, onError: (error) => errors.push(error) });
    await live.pull().catch(() => {});
    return { live, errors };
  }

  it('an expired token is reported as UnauthorizedError and retried at the next occasion; live sync goes on', async () => {
    for (const [code, message] of [['token_expired', 'pull: token expired'], ['PGRST303', 'pull_logs: JWT expired']] as const) {
      const { live, errors } = await liveFailingWith(errorFromStatus(401, code, message));
      expect(errors[0]).toBeInstanceOf(UnauthorizedError);
      expect(live.state).not.toBe('stopped');
      await live.stop();
    }
  });

  it('any other refused token ends live sync with the UnauthorizedError', async () => {
    const { live, errors } = await liveFailingWith(errorFromStatus(401, 'PGRST301', 'pull_logs: JWSError JWSInvalidSignature'));
    expect(live.state).toBe('stopped');
    expect(live.error).toBe(errors[0]);
    expect(live.error).toBeInstanceOf(UnauthorizedError);
  });
});
