/**
 * `tsx bench/cold-start.ts [ROOT ...]`: the sync function's cold start, from spawning Deno to the
 * first answer of its health route (GET /sync/), N times per tree (BENCH_COLD_RUNS, 7), trees
 * alternating so that machine load hits each alike. Trees default to this checkout; pass another
 * checkout (e.g. a `git worktree` of the previous commit) to compare. Deno's module cache is warm
 * (as on a deployed function's second boot); no database is needed for the health route.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { denoBinary } from '../stack/functions.ts';
import { freePort } from '../stack/stack.ts';

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const roots = process.argv.slice(2).length > 0 ? process.argv.slice(2) : [here];
const runs = Number(process.env.BENCH_COLD_RUNS ?? 7);
const deno = denoBinary();

async function coldStart(root: string): Promise<number> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(deno, ['run', '-A', '--no-prompt', '--config', path.join(root, 'functions/sync/deno.json'),
    path.join(root, 'functions/sync/index.ts')], {
    env: {
      PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', DENO_SERVE_ADDRESS: `tcp:127.0.0.1:${port}`,
      SUPABASE_URL: 'http://127.0.0.1:1', SUPABASE_JWKS: JSON.stringify({ keys: [{ kty: 'oct', k: 'c2VjcmV0' }] }),
      SUPABASE_PUBLISHABLE_KEYS: '{"default":"sb_publishable_x"}', SUPABASE_SECRET_KEYS: '{"default":"sb_secret_x"}',
      SUPABASE_ANON_KEY: 'x', SUPABASE_SERVICE_ROLE_KEY: 'x',
    },
    stdio: 'ignore',
  });
  try {
    for (;;) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/sync/`);
        await res.text();
        if (res.status === 200) return performance.now() - started;
      } catch { /* not listening yet */ }
      await new Promise((r) => setTimeout(r, 5));
      if (performance.now() - started > 60_000) throw new Error(`no answer from ${root} within 60 s`);
    }
  } finally {
    child.kill('SIGKILL');
  }
}

const times = new Map<string, number[]>(roots.map((r) => [r, []]));
await coldStart(roots[0]!); // warm Deno's caches once
for (let i = 0; i < runs; i++) for (const root of roots) times.get(root)!.push(await coldStart(root));
for (const [root, list] of times) {
  const sorted = [...list].sort((a, b) => a - b);
  console.log(`${root}: median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(0)} ms, min ${sorted[0]!.toFixed(0)} ms, runs ${list.map((t) => t.toFixed(0)).join(' ')}`);
}
