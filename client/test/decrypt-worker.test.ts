/**
 * Decryption of pulled pages in a worker thread (decrypt-worker.ts, issue 25 item 4): the same
 * plaintexts and the same errors as in-thread, the worker really doing the cipher work, and the
 * in-thread fallback when the worker is unavailable. No stack needed.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it, vi } from 'vitest';
import { type LogCipher, webCryptoLogCipher } from '../src/aes-gcm.ts';
import { MIN_WORKER_LOGS, newPageWorker, type PageWorker, sharedPageWorker } from '../src/decrypt-worker.ts';
import { toBase64 } from '../src/encoding.ts';
import { LogDecryptionError, UsageError } from '../src/errors.ts';
import { encryptChange, logAad, logDecryptor, type StoredLog } from '../src/log-crypto.ts';
import { pullPages } from '../src/pull.ts';
import { bindRecordKeyKey, deriveRecordKeyKey } from '../src/record-key.ts';
import { HaexSyncClient } from '../src/sync.ts';
import type { SyncTransport } from '../src/transport/types.ts';

const VAULT = '3c0d7a52-61f4-4b8e-9d2a-5e7f1a0b9c4d';
const CREATED = '2026-12-06T00:00:00Z';

/** A cipher that must never be called: the worker path has to do the work itself. */
const noCipher: LogCipher = { name: 'node:crypto', decrypt: () => Promise.reject(new Error('in-thread cipher called')) };

/** A non-extractable vault key, as the library makes them, with its record-key key bound. */
async function newKey(): Promise<CryptoKey> {
  const raw = crypto.getRandomValues(new Uint8Array(32));
  const key = await crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']);
  bindRecordKeyKey(key, await deriveRecordKeyKey(raw));
  return key;
}

/** A page of `count` logs: v1, v2 (record key), without device, non-ASCII data; `generation` > 1 gives v3 logs. */
async function pageOf(key: CryptoKey, count: number, generation = 1): Promise<StoredLog[]> {
  const logs = await Promise.all(Array.from({ length: count }, (_, i) => encryptChange(key, VAULT, {
    data: { i, text: 'ü€😀'.repeat(i % 7), big: 'x'.repeat((i % 5) * 300) }, haexTimestamp: `t${i}é`,
    deviceId: i % 3 ? `d${i}` : null, key: i % 4 === 0 ? JSON.stringify(['notes', i, 'title']) : undefined,
  }, generation)));
  return logs.map((l, i) => ({ ...l, sequence: i + 1, deviceId: l.deviceId ?? null, createdAt: CREATED }));
}

/** An authentic log (right key and AAD) whose plaintext is not JSON. */
async function notJsonLog(key: CryptoKey, sequence: number): Promise<StoredLog> {
  const id = crypto.randomUUID();
  const nonce = crypto.getRandomValues(new Uint8Array(12));
  const sealed = await crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce, additionalData: logAad(VAULT, id, 't', null) }, key,
    new TextEncoder().encode('{not json'));
  return { id, sequence, encryptedData: toBase64(new Uint8Array(sealed)), nonce: toBase64(nonce),
    haexTimestamp: 't', deviceId: null, createdAt: CREATED };
}

/** Each log's outcome: the decrypted log, or the error's class, log id, sequence and message. */
const outcomes = async (results: Array<Promise<unknown>>) => (await Promise.allSettled(results)).map((r) => (r.status === 'fulfilled'
  ? r.value
  : { error: (r.reason as Error).constructor.name, logId: (r.reason as LogDecryptionError).logId,
    sequence: (r.reason as LogDecryptionError).sequence, message: (r.reason as Error).message }));

const counting = (worker: PageWorker) => {
  const counted = { batches: 0, logs: 0, decrypt: (key: CryptoKey, slab: Uint8Array, entries: Int32Array) => {
    counted.batches++;
    counted.logs += entries.length / 5;
    return worker.decrypt(key, slab, entries);
  } };
  return counted;
};

describe('decrypting a page in a worker', () => {
  it('gives the same logs as in-thread (v1, v2 and v3 logs, non-extractable key), with the cipher work done by the worker', async () => {
    const key = await newKey();
    const worker = counting(newPageWorker());
    for (const generation of [1, 2]) {
      const page = await pageOf(key, 60, generation);
      const inThread = await Promise.all(logDecryptor(key, VAULT, undefined, generation).page(page));
      const viaWorker = await Promise.all(logDecryptor(key, VAULT, noCipher, generation, worker).page(page));
      expect(viaWorker).toEqual(inThread);
      expect(await logDecryptor(key, VAULT, noCipher, generation, worker).pageAll(page)).toEqual(inThread);
      expect(await logDecryptor(key, VAULT, undefined, generation).pageAll(page)).toEqual(inThread); // node:crypto, synchronous
      expect(viaWorker[59]!.data).toEqual({ i: 59, text: 'ü€😀'.repeat(3), big: 'x'.repeat(1200) });
      expect(viaWorker[4]!.recordKey).toEqual(expect.any(String));
    }
    expect(worker).toMatchObject({ batches: 4, logs: 240 });
  });

  it('refuses the same logs with the same errors as in-thread: altered ciphertext, rewritten AAD, short, malformed, not JSON', async () => {
    const key = await newKey();
    const page = await pageOf(key, 50);
    const flip = (b64: string) => (b64[0] === 'A' ? 'B' : 'A') + b64.slice(1);
    page[3] = { ...page[3]!, encryptedData: flip(page[3]!.encryptedData) }; // one altered ciphertext byte
    page[7] = { ...page[7]!, haexTimestamp: 'rewritten' }; // AAD
    page[11] = { ...page[11]!, deviceId: 'another-device' }; // AAD
    page[15] = { ...page[15]!, encryptedData: page[15]!.encryptedData.slice(0, 12) }; // shorter than a tag
    page[19] = { ...page[19]!, nonce: 'AAAAAAAAAAAAAAAAAAAA' }; // 15 bytes: refused before any cipher
    page[23] = { ...page[23]!, encryptedData: 'not base64!' };
    page[27] = await notJsonLog(key, 28); // authentic, but its plaintext is not JSON
    const inThread = await outcomes(logDecryptor(key, VAULT).page(page));
    const viaWorker = await outcomes(logDecryptor(key, VAULT, noCipher, 1, newPageWorker()).page(page));
    expect(viaWorker).toEqual(inThread);
    const refused = viaWorker.flatMap((r, i) => ('error' in (r as object) ? [i] : []));
    expect(refused).toEqual([3, 7, 11, 15, 19, 23, 27]);
    for (const i of refused) expect(viaWorker[i]).toMatchObject({ error: 'LogDecryptionError', logId: page[i]!.id, sequence: page[i]!.sequence });
    expect((viaWorker[3] as { message: string }).message).toContain('authentication failed');
    expect((viaWorker[27] as { message: string }).message).toContain('not UTF-8 JSON');
    // The whole page at once (what pullPages uses): the first refused log in sequence order, each way.
    const firstOf = (decryptor: ReturnType<typeof logDecryptor>, logs: StoredLog[]) => decryptor.pageAll(logs).then(() => 'accepted', (e: Error) => e.message);
    for (const from of [0, 4, 8, 12, 16]) { // slices of at least MIN_WORKER_LOGS, each starting before another refused log
      const logs = page.slice(from);
      const expected = await firstOf(logDecryptor(key, VAULT), logs);
      expect(await firstOf(logDecryptor(key, VAULT, noCipher, 1, newPageWorker()), logs), `from ${from}`).toBe(expected);
      expect(await firstOf(logDecryptor(key, VAULT, webCryptoLogCipher), logs), `from ${from}, WebCrypto`).toBe(expected);
      expect(expected, `from ${from}`).toBe((viaWorker[refused.find((i) => i >= from)!] as { message: string }).message);
    }
  });

  it('refuses a whole page under another key, log by log, as in-thread', async () => {
    const page = await pageOf(await newKey(), 40);
    const other = await newKey();
    const viaWorker = await outcomes(logDecryptor(other, VAULT, noCipher, 1, newPageWorker()).page(page));
    expect(viaWorker).toEqual(await outcomes(logDecryptor(other, VAULT).page(page)));
    expect(viaWorker.every((r) => (r as { error?: string }).error === 'LogDecryptionError')).toBe(true);
  });

  it('sends each key to the worker once and again after the worker dropped it (more keys than it keeps)', async () => {
    const worker = newPageWorker();
    const keys = await Promise.all(Array.from({ length: 20 }, () => newKey()));
    const pages = await Promise.all(keys.map((key) => pageOf(key, MIN_WORKER_LOGS)));
    for (const i of [...keys.keys(), 0, 19, 1, 0]) { // 0 and 1 were dropped by then (the worker keeps 16), 19 was not
      const logs = await logDecryptor(keys[i]!, VAULT, noCipher, 1, worker).pageAll(pages[i]!);
      expect(logs.map((l) => (l.data as { i: number }).i), `key ${i}`).toEqual(pages[i]!.map((_, j) => j));
    }
  });

  it('decrypts in-thread when the worker is unavailable, and pages below the threshold never go to it', async () => {
    const key = await newKey();
    const page = await pageOf(key, 40);
    const broken = counting({ decrypt: () => Promise.reject(new Error('worker died')) });
    const expected = await Promise.all(logDecryptor(key, VAULT).page(page));
    expect(await Promise.all(logDecryptor(key, VAULT, undefined, 1, broken).page(page))).toEqual(expected);
    expect(await logDecryptor(key, VAULT, undefined, 1, broken).pageAll(page)).toEqual(expected);
    expect(broken.batches).toBe(2);
    const small = page.slice(0, MIN_WORKER_LOGS - 1);
    expect(await Promise.all(logDecryptor(key, VAULT, undefined, 1, broken).page(small))).toEqual(expected.slice(0, MIN_WORKER_LOGS - 1));
    expect(broken.batches).toBe(2);
  });

  it('pullPages yields the same pages with and without the worker and stops at the same altered log', async () => {
    const key = await newKey();
    const logs = await pageOf(key, 250);
    logs[180] = { ...logs[180]!, encryptedData: (logs[180]!.encryptedData[0] === 'A' ? 'B' : 'A') + logs[180]!.encryptedData.slice(1) };
    const transport = {
      pull: async (_vault: string, after: number, limit: number) => {
        const slice = logs.slice(after, after + limit);
        const next = after + slice.length;
        return { logs: slice, hasMore: next < logs.length, nextSequence: next, lastSequence: logs.length, compactedThrough: 0 };
      },
    } as unknown as SyncTransport;
    const run = async (decryptWorker: boolean) => {
      const pages: unknown[] = [];
      try {
        for await (const page of pullPages(transport, key, VAULT, { pageSize: 100, decryptWorker })) pages.push(page);
      } catch (error) {
        pages.push({ error: (error as Error).constructor.name, message: (error as Error).message });
      }
      return pages;
    };
    // Whatever this machine's core count: HAEX_SYNC_DECRYPT_WORKER=1 turns the worker on (the
    // default needs MIN_CORES_FOR_WORKER cores, and CI may have two).
    vi.stubEnv('HAEX_SYNC_DECRYPT_WORKER', '1');
    expect(sharedPageWorker(), 'HAEX_SYNC_DECRYPT_WORKER=1: pullPages uses the worker').toBeDefined();
    const [without, withWorker] = [await run(false), await run(true)];
    expect(withWorker).toEqual(without);
    expect(withWorker).toHaveLength(2); // logs 1-100, then the page with log 181 fails
    expect(withWorker[1]).toMatchObject({ error: 'LogDecryptionError', message: expect.stringContaining(logs[180]!.id) });
    vi.unstubAllEnvs();
  });

  it('HaexSyncClient.create takes decryptWorker as true or false and refuses anything else', () => {
    const transport = { pull: async () => { throw new Error('unused'); } } as unknown as SyncTransport;
    expect(HaexSyncClient.create({ transport, decryptWorker: false })).toBeInstanceOf(HaexSyncClient);
    expect(HaexSyncClient.create({ transport, decryptWorker: true })).toBeInstanceOf(HaexSyncClient);
    expect(() => HaexSyncClient.create({ transport, decryptWorker: 'no' as never })).toThrow(UsageError);
  });

  // client/dist is what `npm ci` (prepare) or `npm run build:client` built: rebuild after changing client/src.
  it('works from the built package in plain Node (no loader), and the script ends by itself with the worker idle', async () => {
    const dist = (file: string) => pathToFileURL(path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist', file)).href;
    const script = `
      import { encryptChange, logDecryptor } from '${dist('index.js')}';
      import { sharedPageWorker } from '${dist('decrypt-worker.js')}';
      const vault = '${VAULT}';
      const key = await crypto.subtle.importKey('raw', crypto.getRandomValues(new Uint8Array(32)), 'AES-GCM', false, ['encrypt', 'decrypt']);
      const logs = await Promise.all(Array.from({ length: 64 }, (_, i) => encryptChange(key, vault, { data: { i }, haexTimestamp: 't' + i })));
      const page = logs.map((l, i) => ({ ...l, sequence: i + 1, deviceId: null, createdAt: 'c' }));
      const noCipher = { name: 'node:crypto', decrypt: () => Promise.reject(new Error('in-thread cipher called')) };
      const out = await logDecryptor(key, vault, noCipher, 1, sharedPageWorker()).pageAll(page);
      console.log(JSON.stringify(out.map((l) => l.data.i)));`;
    // HAEX_SYNC_DECRYPT_WORKER=1: the worker whatever this machine's core count (the default needs three).
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script],
      { timeout: 30_000, env: { ...process.env, HAEX_SYNC_DECRYPT_WORKER: '1' } });
    expect(JSON.parse(stdout)).toEqual(Array.from({ length: 64 }, (_, i) => i));
  });
});
