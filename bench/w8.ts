/**
 * W8 export and restore (issue 29): a vault of BENCH_W8_CHANGES changes (default 100,000; small JSON
 * cells, one in ten with a record key) is exported with vault.exportArchive to a file on disk and
 * restored from it with client.importArchive into a new vault on the same stack. Goal: >= 20,000
 * changes/s each way; peak RSS growth is reported (the bound, <= 128 MiB, is for 1,000,000
 * changes and 1 GiB of files). Each side runs in a child process of its own (bench/w8-side.ts), so RSS
 * is that side's alone. The vault is filled through the client before the clock starts.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
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
const PASSWORD = 'bench w8 vault password';
const ARCHIVE_PASSWORD = 'bench w8 archive password';
export const W8_GOAL_CHANGES_PER_SECOND = 20_000;
const RSS_BOUND_MIB = 128;

interface Side { seconds: number; bytes: number; changes: number; rssBeforeMiB: number; peakRssGrowthMiB: number }

export async function runExportImport(options: { users: UserFactory; anonKey: string; changes: number; progress: (line: string) => void }):
  Promise<{ rows: ResultRow[]; details: Record<string, Side> }> {
  const { users, anonKey, changes, progress } = options;
  const user = await ensureUser(users.dbUrl, `bench-w8-${randomUUID().slice(0, 8)}@bench.local`,
    { jwtSecret: users.jwtSecret, apiUrl: users.apiUrl, expiresInSeconds: 3600 });
  const supabase = createClient(users.apiUrl, anonKey, { accessToken: async () => user.access_token, realtime: { transport: WebSocket as never } });
  const vault = await HaexSyncClient.create({ supabase, autoCompact: false }).createVault(PASSWORD);
  progress(`W8 export/import: filling a vault with ${changes} changes`);
  for (let at = 0; at < changes; at += 10_000) {
    await vault.push(Array.from({ length: Math.min(10_000, changes - at) }, (_, i) => {
      const n = at + i;
      return { data: { table: 'entries', id: n, column: 'note', value: `note ${n} ${'x'.repeat(40)}` }, haexTimestamp: `${1_700_000_000_000 + n}-0000-w8`,
        ...(n % 10 === 0 ? { key: `entries/${n % 1000}/note` } : {}) };
    }));
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'haex-w8-'));
  const env = {
    ...process.env, W8_API_URL: users.apiUrl, W8_ANON_KEY: anonKey, W8_TOKEN: user.access_token, W8_VAULT_ID: vault.vaultId,
    W8_PASSWORD: PASSWORD, W8_ARCHIVE_PASSWORD: ARCHIVE_PASSWORD, W8_ARCHIVE: path.join(dir, 'vault.hxsa'),
  };
  const side = async (mode: string): Promise<Side> => {
    const { stdout } = await run(process.execPath, ['--expose-gc', ...(process.env.BENCH_W8_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_W8_CPU_PROF}`] : []), '--import', 'tsx', path.join(here, 'w8-side.ts'), mode],
      { env, timeout: 1_800_000, maxBuffer: 1 << 20 });
    const result = JSON.parse(stdout.trim().split('\n').pop()!) as Side;
    if (result.changes !== changes) throw new Error(`W8 ${mode} moved ${result.changes} changes, not ${changes}`);
    progress(`  W8 ${mode}: ${Math.round(changes / result.seconds)} changes/s, archive ${(result.bytes / 2 ** 20).toFixed(1)} MiB, `
      + `peak RSS +${result.peakRssGrowthMiB.toFixed(1)} MiB`);
    return result;
  };
  const details = {} as Record<string, Side>;
  try {
    for (const mode of ['export', 'import']) details[mode] = await side(mode);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const row = (target: string, s: Side): ResultRow => {
    const perSecond = changes / s.seconds;
    return {
      workload: 'W8 export/import', target, metric: 'changes/s', value: Math.round(perSecond), unit: 'changes/s',
      goal: `>= ${W8_GOAL_CHANGES_PER_SECOND} changes/s`, verdict: perSecond >= W8_GOAL_CHANGES_PER_SECOND ? 'PASS' : 'MISS',
      details: { changes, seconds: Math.round(s.seconds * 100) / 100, 'archive MiB': Math.round(s.bytes / 2 ** 20 * 10) / 10,
        'RSS +MiB': Math.round(s.peakRssGrowthMiB * 10) / 10, 'RSS bound (1M changes + 1 GiB)': `<= ${RSS_BOUND_MIB} MiB` },
    };
  };
  return { rows: [row('exportArchive', details.export!), row('importArchive', details.import!)], details };
}
