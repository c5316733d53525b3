/**
 * One side of W8 (bench/w8.ts), in a process of its own so that its RSS is its own: `export` unlocks
 * the vault and writes vault.exportArchive's stream to W8_ARCHIVE; `import` restores that file, read as
 * a stream from disk (so no verification pass: the streamed path), with client.importArchive into a
 * new vault. Prints one JSON line { seconds, bytes, changes, rssBeforeMiB, peakRssGrowthMiB }; RSS is
 * sampled every 10 ms from the moment the transfer starts (the archive's PBKDF2 included, the
 * unlock before it not).
 */
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { createClient } from '@supabase/supabase-js';
import WebSocket from 'ws';
import { HaexSyncClient } from '../client/src/index.ts';

const env = process.env as Record<string, string>;
const mode = process.argv[2]!;
const supabase = createClient(env.W8_API_URL!, env.W8_ANON_KEY!, {
  accessToken: async () => env.W8_TOKEN!, realtime: { transport: WebSocket as never },
});
const client = HaexSyncClient.create({ supabase, autoCompact: false });

async function measure(transfer: () => Promise<number>) {
  const mib = 1024 * 1024;
  globalThis.gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 10);
  const started = performance.now();
  const changes = await transfer();
  const seconds = (performance.now() - started) / 1000;
  peak = Math.max(peak, process.memoryUsage().rss);
  clearInterval(timer);
  const bytes = statSync(env.W8_ARCHIVE!).size;
  process.stdout.write(`${JSON.stringify({ seconds, bytes, changes, rssBeforeMiB: before / mib, peakRssGrowthMiB: (peak - before) / mib })}\n`);
}

if (mode === 'export') {
  const vault = await client.unlockVault(env.W8_VAULT_ID!, env.W8_PASSWORD!);
  await measure(async () => {
    let changes = 0;
    const out = createWriteStream(env.W8_ARCHIVE!);
    const stream = await vault.exportArchive({ password: env.W8_ARCHIVE_PASSWORD!, onProgress: (done) => { changes = done; } });
    for await (const piece of stream as unknown as AsyncIterable<Uint8Array>) {
      if (!out.write(piece)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
    }
    out.end();
    await finished(out);
    return changes;
  });
} else if (mode === 'import') {
  await measure(async () => {
    let changes = 0;
    const data = Readable.toWeb(createReadStream(env.W8_ARCHIVE!, { highWaterMark: 1 << 20 })) as unknown as ReadableStream<Uint8Array>;
    const vault = await client.importArchive(data, {
      password: env.W8_ARCHIVE_PASSWORD!, vaultPassword: env.W8_PASSWORD!, onProgress: (done) => { changes = done; },
    });
    const summary = (await client.listVaults()).find((v) => v.vaultId === vault.vaultId);
    if (summary?.logCount !== changes) throw new Error(`W8 import: ${summary?.logCount} logs in the new vault, ${changes} imported`);
    return changes;
  });
} else {
  throw new Error(`unknown mode ${mode}`);
}
process.exit(0);
