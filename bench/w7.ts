/**
 * W7 files (issue 26): one device uploads a BENCH_W7_MIB file (default 256 MiB) through putFile, another
 * downloads it through getFile (and streams it through openFile); each against bare fetch moving the
 * same bytes to and from the same Storage, as plain objects of the same chunk size with the same
 * parallelism, without encryption. Goals: each client side >= 0.7x its bare-fetch side, and peak RSS
 * growth <= 64 MiB on both sides. getFile returns the whole file in one buffer, so its RSS growth is
 * reported beyond that buffer (and openFile's, which holds no file-sized buffer, as it is).
 * Every side runs in a child process (bench/w7-side.ts), so RSS is that side's alone; sides run one
 * after the other (bare, then client, for each direction).
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createClient } from '@supabase/supabase-js';
import WebSocket from 'ws';
import { HaexSyncClient } from '../client/src/index.ts';
import { ensureUser } from '../stack/users.ts';
import type { ResultRow } from './stats.ts';
import type { UserFactory } from './workloads.ts';

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const PASSWORD = 'bench w7 password';
const MIN_RATIO = 0.7;
const MAX_RSS_MIB = 64;

interface Side { seconds: number; bytes: number; rssBeforeMiB: number; peakRssGrowthMiB: number }

export async function runFiles(options: { users: UserFactory; anonKey: string; mib: number; progress: (line: string) => void }):
  Promise<{ rows: ResultRow[]; details: Record<string, Side> }> {
  const { users, anonKey, progress } = options;
  const bytes = options.mib * 1024 * 1024;
  const user = await ensureUser(users.dbUrl, `bench-w7-${randomUUID().slice(0, 8)}@bench.local`,
    { jwtSecret: users.jwtSecret, apiUrl: users.apiUrl, expiresInSeconds: 3600 });
  const supabase = createClient(users.apiUrl, anonKey, { accessToken: async () => user.access_token, realtime: { transport: WebSocket as never } });
  const vault = await HaexSyncClient.create({ supabase }).createVault(PASSWORD);
  const env = {
    ...process.env, W7_API_URL: users.apiUrl, W7_ANON_KEY: anonKey, W7_TOKEN: user.access_token, W7_VAULT_ID: vault.vaultId,
    W7_PASSWORD: PASSWORD, W7_FILE_ID: randomUUID(), W7_BARE_ID: randomUUID(), W7_BYTES: String(bytes),
  };
  const side = async (mode: string): Promise<Side> => {
    const { stdout } = await run(process.execPath, ['--expose-gc', '--import', 'tsx', path.join(here, 'w7-side.ts'), mode],
      { env, timeout: 1_800_000, maxBuffer: 1 << 20 });
    const result = JSON.parse(stdout.trim().split('\n').pop()!) as Side;
    if (result.bytes !== bytes) throw new Error(`W7 ${mode} moved ${result.bytes} bytes, not ${bytes}`);
    progress(`  W7 ${mode}: ${(bytes / 2 ** 20 / result.seconds).toFixed(1)} MiB/s, peak RSS +${result.peakRssGrowthMiB.toFixed(1)} MiB`);
    return result;
  };
  progress(`W7 files: ${options.mib} MiB`);
  const details = {} as Record<string, Side>;
  for (const mode of ['bare-put', 'put', 'bare-get', 'get', 'stream']) details[mode] = await side(mode);
  const mibps = (s: Side) => bytes / 2 ** 20 / s.seconds;
  const fileMiB = bytes / 2 ** 20;
  const row = (target: string, client: Side, bare: Side, rssMiB: number, note?: string): ResultRow => {
    const ratio = mibps(client) / mibps(bare);
    const pass = ratio >= MIN_RATIO && rssMiB <= MAX_RSS_MIB;
    return {
      workload: 'W7 files', target, metric: 'MiB/s', value: Math.round(mibps(client) * 10) / 10, unit: 'MiB/s', ratio,
      goal: `>= ${MIN_RATIO}x bare fetch, RSS <= +${MAX_RSS_MIB} MiB`, verdict: pass ? 'PASS' : 'MISS',
      details: { 'bare MiB/s': Math.round(mibps(bare) * 10) / 10, 'RSS +MiB': Math.round(rssMiB * 10) / 10, MiB: options.mib }, note,
    };
  };
  return {
    rows: [
      row('putFile', details.put!, details['bare-put']!, details.put!.peakRssGrowthMiB),
      row('getFile', details.get!, details['bare-get']!, details.get!.peakRssGrowthMiB - fileMiB, 'RSS beyond the returned file buffer'),
      row('openFile', details.stream!, details['bare-get']!, details.stream!.peakRssGrowthMiB),
    ],
    details,
  };
}
