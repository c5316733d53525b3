/**
 * `tsx bench/profile-edge.ts`: a CPU profile of the Edge Function `sync` under W1/W2-like load.
 * On a throwaway stack it runs a second copy of the function with `deno run --cpu-prof`
 * (bench/edge/profile-entry.js, plain JS so that tsc leaves it to Deno; same env as the stack gives it, talking to the stack's PostgREST),
 * drives pushes (batches of 100, 8 in flight) and pulls (pages of 1,000) straight at it, stops it,
 * and prints the functions with the most self time. PROFILE_SECONDS (8) per phase.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { denoBinary } from '../stack/functions.ts';
import { freePort } from '../stack/stack.ts';
import { startThrowawayStack } from '../tests/support/throwaway-stack.ts';
import { edgeSync } from './targets.ts';
import { fillVaultSql, LogGenerator, newSession } from './workloads.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const SECONDS = Number(process.env.PROFILE_SECONDS ?? 8);
const stack = await startThrowawayStack({ quiet: true });
const profDir = mkdtempSync(path.join(tmpdir(), 'haex-edge-prof-'));
try {
  const sql = postgres(stack.info.DB_URL, { max: 2, onnotice: () => {} });
  const users = { dbUrl: stack.info.DB_URL, jwtSecret: stack.info.JWT_SECRET, apiUrl: stack.info.API_URL };
  const port = await freePort();
  const deno = spawn(denoBinary(), [
    'run', '--allow-net', '--allow-env', '--allow-read', '--allow-sys', '--no-prompt', `--cpu-prof`, `--cpu-prof-dir=${profDir}`,
    '--config', path.join(here, '..', 'functions', 'sync', 'deno.json'), path.join(here, 'edge', 'profile-entry.js'),
  ], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: {
      PATH: process.env.PATH, HOME: process.env.HOME, PROFILE_PORT: String(port), NO_COLOR: '1',
      SUPABASE_URL: stack.info.API_URL, SUPABASE_ANON_KEY: stack.info.ANON_KEY, SUPABASE_SERVICE_ROLE_KEY: stack.info.SERVICE_ROLE_KEY,
      SUPABASE_DB_URL: stack.info.DB_URL, SUPABASE_JWT_SECRET: stack.info.JWT_SECRET, HAEX_POSTGREST_URL: `http://127.0.0.1:${stack.postgrestPort}`,
    },
  });
  for (let i = 0; ; i++) {
    if (await fetch(`http://127.0.0.1:${port}/sync`).then(() => true, () => false)) break;
    if (i > 300) throw new Error('profiled function did not start');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  // The function is reached without the gateway: same paths, same headers.
  const target = edgeSync({ apiUrl: '', postgrestPort: 0, dbUrl: '', anonKey: stack.info.ANON_KEY }, `http://127.0.0.1:${port}`);
  const sessions = await Promise.all(Array.from({ length: 8 }, (_, i) => newSession(sql, users, `prof-${i}`)));
  const gens = sessions.map(() => new LogGenerator());
  let pushes = 0;
  const until = Date.now() + SECONDS * 1000;
  await Promise.all(sessions.map(async (s, i) => { while (Date.now() < until) { await target.push(s, gens[i]!.batch(100)); pushes++; } }));
  const pullSession = sessions[0]!;
  await sql`delete from public.sync_logs where vault_id = ${pullSession.vaultId}`;
  await fillVaultSql(sql, pullSession, 100_000);
  let pages = 0;
  const pullUntil = Date.now() + SECONDS * 1000;
  while (Date.now() < pullUntil) {
    for (let after = 0; Date.now() < pullUntil;) {
      const page = await target.pull(pullSession, after, 1000);
      pages++;
      after = page.lastSequence;
      if (!page.hasMore) break;
    }
  }
  console.log(`drove ${pushes} pushes of 100 and ${pages} pulls of 1000`);
  deno.kill('SIGTERM');
  await new Promise((resolve) => deno.once('exit', resolve));
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error('no .cpuprofile written');
  interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }
  const profile = JSON.parse(readFileSync(path.join(profDir, file), 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const byFrame = new Map<string, number>();
  for (const node of profile.nodes) {
    const { functionName, url, lineNumber } = node.callFrame;
    const key = `${functionName || '(anonymous)'} ${url.replace(/^.*\/(node_modules|functions|bench)\//, '$1/')}:${lineNumber + 1}`;
    byFrame.set(key, (byFrame.get(key) ?? 0) + (self.get(node.id) ?? 0));
  }
  const idle = byFrame.get('(idle) :0') ?? 0;
  byFrame.delete('(idle) :0');
  const total = [...byFrame.values()].reduce((a, b) => a + b, 0);
  console.log(`Deno CPU profile: ${(total / 1e6).toFixed(1)} s busy, ${(idle / 1e6).toFixed(1)} s idle; top self time (% of busy):`);
  for (const [key, us] of [...byFrame].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
    console.log(`  ${((100 * us) / total).toFixed(1).padStart(5)}%  ${key}`);
  }
  await sql.end();
} finally {
  rmSync(profDir, { recursive: true, force: true });
  await stack.dispose();
}
