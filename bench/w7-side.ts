/**
 * One side of W7 (bench/w7.ts), in a process of its own so that its RSS is its own: `put`/`get`/
 * `stream` move BENCH_W7 bytes through the client (putFile from a generated stream, getFile into one
 * buffer, openFile consumed and dropped); `bare-put`/`bare-get` move the same bytes as plain objects
 * of the same chunk size with bare fetch and the same parallelism, without encryption. Prints one JSON
 * line: { seconds, bytes, rssBeforeMiB, peakRssGrowthMiB }. RSS is sampled every 10 ms from the moment
 * the transfer starts (setup, module loading and PBKDF2 before it).
 */
import { createClient } from '@supabase/supabase-js';
import WebSocket from 'ws';
import { HaexSyncClient } from '../client/src/index.ts';
import { DEFAULT_CHUNK_SIZE } from '../client/src/files/format.ts';

const env = process.env as Record<string, string>;
const mode = process.argv[2]!;
const size = Number(env.W7_BYTES);
const CONCURRENCY = 3;
const token = env.W7_TOKEN!;

/** Deterministic incompressible-looking bytes, generated piece by piece (never the whole file at once). */
function generated(total: number, piece = 1 << 20): ReadableStream<Uint8Array> {
  let sent = 0;
  let x = 0x9e3779b9;
  return new ReadableStream({
    pull(controller) {
      if (sent >= total) { controller.close(); return; }
      const n = Math.min(piece, total - sent);
      const out = new Uint8Array(n);
      const words = new Uint32Array(out.buffer, 0, n >> 2);
      for (let i = 0; i < words.length; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; words[i] = x >>> 0; }
      sent += n;
      controller.enqueue(out);
    },
  }, { highWaterMark: 0 });
}

async function measure(transfer: () => Promise<number>) {
  const mib = 1024 * 1024;
  globalThis.gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 10);
  const started = performance.now();
  const bytes = await transfer();
  const seconds = (performance.now() - started) / 1000;
  peak = Math.max(peak, process.memoryUsage().rss);
  clearInterval(timer);
  process.stdout.write(`${JSON.stringify({ seconds, bytes, rssBeforeMiB: before / mib, peakRssGrowthMiB: (peak - before) / mib })}\n`);
}

async function inParallel(count: number, one: (index: number) => Promise<void>) {
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < count) await one(next++);
  }));
}

const objectUrl = (index: number) =>
  `${env.W7_API_URL}/storage/v1/object/vault-files/${env.W7_VAULT_ID}/${env.W7_BARE_ID}/c/${String(index).padStart(10, '0')}`;
const headers = { apikey: env.W7_ANON_KEY!, authorization: `Bearer ${token}` };
const chunks = Math.ceil(size / DEFAULT_CHUNK_SIZE);

if (mode === 'bare-put') {
  const reader = generated(size, DEFAULT_CHUNK_SIZE).getReader();
  await measure(async () => {
    let index = 0;
    let sent = 0;
    await inParallel(chunks, async () => {
      const { value } = await reader.read();
      const i = index++;
      const res = await fetch(objectUrl(i), { method: 'POST', headers: { ...headers, 'content-type': 'application/octet-stream', 'x-upsert': 'true' }, body: value as Uint8Array<ArrayBuffer> });
      if (!res.ok) throw new Error(`bare upload ${i}: ${res.status} ${await res.text()}`);
      sent += value!.length;
    });
    return sent;
  });
} else if (mode === 'bare-get') {
  await measure(async () => {
    const out = new Uint8Array(size);
    await inParallel(chunks, async (i) => {
      const res = await fetch(objectUrl(i), { headers });
      if (!res.ok) throw new Error(`bare download ${i}: ${res.status}`);
      out.set(new Uint8Array(await res.arrayBuffer()), i * DEFAULT_CHUNK_SIZE);
    });
    return out.length;
  });
} else {
  const supabase = createClient(env.W7_API_URL!, env.W7_ANON_KEY!, {
    accessToken: async () => token, realtime: { transport: WebSocket as never },
  });
  const client = HaexSyncClient.create({ supabase, files: { concurrency: CONCURRENCY } });
  const vault = await client.unlockVault(env.W7_VAULT_ID!, env.W7_PASSWORD!);
  if (mode === 'put') {
    await measure(async () => (await vault.putFile(generated(size), { fileId: env.W7_FILE_ID })).size);
  } else if (mode === 'get') {
    await measure(async () => (await vault.getFile(env.W7_FILE_ID!)).length);
  } else if (mode === 'stream') {
    await measure(async () => {
      let n = 0;
      for await (const piece of (await vault.openFile(env.W7_FILE_ID!)) as unknown as AsyncIterable<Uint8Array>) n += piece.length;
      return n;
    });
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
}
process.exit(0);
