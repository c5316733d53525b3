/**
 * Child process of W4: a new device catching up on a vault from sequence 0, decrypting every log.
 * Reads its input from BENCH_W4_INPUT, samples its own memory every 20 ms and prints one JSON line
 * (logs, seconds, logs/s, peak RSS/heap, max RSS, heap retained after forced GCs, and the decrypt
 * cost per log of each AES-GCM backend on the vault's first page) on stdout.
 *
 * Modes:
 *   library-rpc    client/src pullPages (pages of 1,000, node:crypto decryption, in the decrypt worker
 *                  where the machine has three cores or more, else in-thread: the default) over rpcTransport (supabase-js,
 *                  /rest/v1/rpc/pull_page through the gateway, issue 25): what an app does;
 *   library-rpc-worker  the same with HAEX_SYNC_DECRYPT_WORKER=1 (the worker whatever the core count);
 *   library-edge   the same over edgeFunctionTransport (/functions/v1/sync/pull);
 *   library-rpc-webcrypto  library-rpc with HAEX_SYNC_CRYPTO=webcrypto: the portable decryption path
 *                  (browsers, Tauri, Deno) measured on Node;
 *   stand-in-node  pages of 1,000 from /rest/v1/rpc/pull_logs, the next page fetched while the current
 *                  one is decrypted with node:crypto's synchronous AES-GCM (same bytes, same AAD):
 *                  how fast the same catch-up is without WebCrypto's per-call cost.
 */
import { createDecipheriv, webcrypto } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createClient } from '@supabase/supabase-js';
import WebSocket from 'ws';
import { defaultLogCipher, webCryptoLogCipher } from '../client/src/aes-gcm.ts';
import { nodeLogCipher } from '../client/src/aes-gcm-node.ts';
import { logDecryptor } from '../client/src/log-crypto.ts';
import { pullPages } from '../client/src/pull.ts';
import { edgeFunctionTransport } from '../client/src/transport/edge-function.ts';
import { rpcTransport } from '../client/src/transport/rpc.ts';
import { postJson } from './targets.ts';
import { aadFor } from './w4-crypto.ts';

interface Input {
  apiUrl: string; anonKey: string; token: string; vaultId: string; key: string; expected: number;
  mode: 'library-rpc' | 'library-rpc-worker' | 'library-edge' | 'library-rpc-webcrypto' | 'stand-in-node';
}
interface Row { id: string; sequence: number; encrypted_data: string; nonce: string; haex_timestamp: string; device_id: string | null }
interface Page { logs: Row[]; has_more: boolean; next_sequence: number }

const input = JSON.parse(process.env.BENCH_W4_INPUT!) as Input;
if (input.mode === 'library-rpc-webcrypto') process.env.HAEX_SYNC_CRYPTO = 'webcrypto'; // read on first use
const MiB = 2 ** 20;
let peakRss = 0;
let peakHeap = 0;
const sample = () => {
  const m = process.memoryUsage();
  peakRss = Math.max(peakRss, m.rss);
  peakHeap = Math.max(peakHeap, m.heapUsed);
};
const sampler = setInterval(sample, 20);
// Heap still in use after a forced full GC, every 10 pages (the child runs with --expose-gc): what the
// client retains, independent of when V8 happens to collect. Peak heap/RSS include garbage.
let retainedHeap = 0;
let pages = 0;
const pageDone = () => {
  if (++pages % 10 !== 0) return;
  (globalThis as { gc?: () => void }).gc?.();
  retainedHeap = Math.max(retainedHeap, process.memoryUsage().heapUsed);
};

const importKey = () => webcrypto.subtle.importKey('raw', Buffer.from(input.key, 'base64'), 'AES-GCM', false, ['decrypt']) as Promise<CryptoKey>;
const transportOf = () => input.mode === 'library-edge'
    ? edgeFunctionTransport({ url: `${input.apiUrl}/functions/v1/sync`, accessToken: () => input.token, apikey: input.anonKey })
    : rpcTransport(createClient(input.apiUrl, input.anonKey, {
      auth: { persistSession: false, autoRefreshToken: false },
      global: { headers: { Authorization: `Bearer ${input.token}` } },
      realtime: { transport: WebSocket as never },
    }));

async function libraryCatchUp(onLog: (data: unknown) => void): Promise<number> {
  const key = await importKey();
  const transport = transportOf();
  let count = 0;
  // library-rpc-worker: the worker whatever the core count (the default needs three cores).
  if (input.mode === 'library-rpc-worker') process.env.HAEX_SYNC_DECRYPT_WORKER = '1';
  for await (const page of pullPages(transport, key as CryptoKey, input.vaultId, { pageSize: 1000 })) {
    for (const log of page.logs) onLog(log.data);
    count += page.logs.length;
    pageDone();
  }
  return count;
}

async function standInCatchUp(onLog: (data: unknown) => void): Promise<number> {
  const rawKey = Buffer.from(input.key, 'base64');
  const url = new URL(`${input.apiUrl}/rest/v1/rpc/pull_logs`);
  const headers = { authorization: `Bearer ${input.token}`, apikey: input.anonKey };
  const page = (after: number) => postJson<Page[]>(url, headers, JSON.stringify({ vault_id: input.vaultId, after_sequence: after, max_count: 1000 }));
  let count = 0;
  let next: Promise<Page[]> | undefined = page(0);
  while (next) {
    const [current] = (await next) as Page[];
    next = current!.has_more ? page(Number(current!.next_sequence)) : undefined;
    for (const row of current!.logs) {
      const data = Buffer.from(row.encrypted_data, 'base64');
      const decipher = createDecipheriv('aes-256-gcm', rawKey, Buffer.from(row.nonce, 'base64'));
      decipher.setAAD(aadFor(input.vaultId, row.id, row.haex_timestamp, row.device_id));
      decipher.setAuthTag(data.subarray(data.length - 16));
      onLog(JSON.parse(Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]).toString('utf8')));
    }
    count += current!.logs.length;
    pageDone();
  }
  return count;
}

/** µs per log to decrypt the vault's first page (1,000 logs) with each backend: best of 5, after a warm-up. */
async function decryptCost(): Promise<Record<string, number>> {
  const key = await importKey();
  const { logs } = await transportOf().pull(input.vaultId, 0, 1000);
  const out: Record<string, number> = {};
  for (const cipher of [nodeLogCipher(), webCryptoLogCipher]) {
    if (!cipher) continue;
    const decryptor = logDecryptor(key, input.vaultId, cipher);
    let best = Infinity;
    for (let i = 0; i < 6; i++) {
      const t = performance.now();
      await Promise.all(decryptor.page(logs));
      if (i > 0) best = Math.min(best, performance.now() - t);
    }
    out[cipher.name] = Math.round((best * 1000 / logs.length) * 10) / 10;
  }
  return out;
}

const LABELS: Record<Input['mode'], string> = {
  'library-rpc': 'client library, rpc transport',
  'library-rpc-worker': 'client library, rpc transport, decryption in the worker',
  'library-edge': 'client library, Edge Function transport',
  'library-rpc-webcrypto': 'client library, rpc transport, WebCrypto',
  'stand-in-node': 'stand-in: rest rpc + node:crypto',
};

async function main() {
  sample();
  const started = performance.now();
  const cpuStart = process.cpuUsage();
  const eluStart = performance.eventLoopUtilization();
  let seen = 0;
  const deliver = () => { seen++; };
  const count = input.mode === 'stand-in-node' ? await standInCatchUp(deliver) : await libraryCatchUp(deliver);
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  const mainActiveMs = performance.eventLoopUtilization(eluStart).active;
  clearInterval(sampler);
  sample();
  if (count !== input.expected || seen !== count) throw new Error(`caught up ${count} logs (${seen} delivered), expected ${input.expected}`);
  const decryptMicros = input.mode === 'stand-in-node' ? {} : await decryptCost();
  console.log(JSON.stringify({
    logs: count, seconds, logsPerSecond: count / seconds, client: LABELS[input.mode],
    peakRssMiB: Math.round(peakRss / MiB), peakHeapUsedMiB: Math.round(peakHeap / MiB), retainedHeapMiB: Math.round(retainedHeap / MiB),
    maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024), cipher: input.mode === 'stand-in-node' ? 'node:crypto' : defaultLogCipher().name,
    decryptMicros, clientCpuMicrosPerLog: Math.round(((cpu.user + cpu.system) / count) * 10) / 10,
    mainThreadMicrosPerLog: Math.round((mainActiveMs * 1000 / count) * 10) / 10,
  }));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
