/**
 * `tsx bench/profile-access.ts`: what the access check (session check, pre-request hook) costs per
 * request (issue 25, item 2), mode against mode on one throwaway stack, alternating (the order
 * rotated every round) so that this machine's drift falls on every mode alike. Modes:
 *   "none"           hook off, private.caller_id() = auth.uid() (as before issue 19);
 *   "before"         caller_id() and check_request() as before item 2 (bench/sql/access_check_before.sql), hook on;
 *   "before-nohook"  the same functions, hook off;
 *   "now"            the functions the migrations left (this branch), hook on;
 *   "empty-hook"     "none" with the hook on and its function empty (the cost of the hook's statement);
 *   "candidate"      PROFILE_ACCESS_CANDIDATE=<sql file> applied over "now", hook on (PROFILE_ACCESS_UNDO=<sql
 *                    file>: what the other modes run to undo it, e.g. drop the candidate's index).
 * Part "sql": PostgREST's transaction replayed on one connection (BEGIN, its set_config statement,
 * the hook's statement if the mode has one, the request's statement, COMMIT) for a 1-log push_logs,
 * a 1-log pull_page, a table read under RLS and `select 1`, PROFILE_SQL_CALLS (1000) each; figure:
 * the backend's CPU time per request (/proc/<pid>/schedstat), which waiting for a core does not
 * inflate: the steadiest figure on a loaded machine.
 * Part "http": through PostgREST's own port, W3 (PROFILE_W3 (300) sequential 1-log pushes after
 * PROFILE_WARMUP (200): replacing a function makes every pooled connection replan), W1
 * (PROFILE_CLIENTS (8) clients, batches of 100, PROFILE_SECONDS (3)) and W2 (one pull of
 * PROFILE_W2_LOGS (20,000) in pages of 1,000); per W3 request also the top-level statements
 * (pg_stat_statements) and the CPU time of the Postgres backends and of PostgREST.
 * Prints medians of PROFILE_ROUNDS (5) per mode and the load average. PROFILE_PART (sql,http) and
 * PROFILE_MODES (none,before,now) pick what runs.
 */
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { startThrowawayStack } from '../tests/support/throwaway-stack.ts';
import { median } from './stats.ts';
import { postgrestDirect, type Session } from './targets.ts';
import { claimsOf, fillVaultSql, LogGenerator, newSession, resetLogs, runLatency, runPull, runPush } from './workloads.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const num = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
const ROUNDS = num('PROFILE_ROUNDS', 5);
const W3 = num('PROFILE_W3', 300);
const WARMUP = num('PROFILE_WARMUP', 200);
const SECONDS = num('PROFILE_SECONDS', 3);
const CLIENTS = num('PROFILE_CLIENTS', 8);
const W2_LOGS = num('PROFILE_W2_LOGS', 20_000);
const SQL_CALLS = num('PROFILE_SQL_CALLS', 1000);
const parts = (process.env.PROFILE_PART ?? 'sql,http').split(',');
const candidateFile = process.env.PROFILE_ACCESS_CANDIDATE;
const modes = (process.env.PROFILE_MODES ?? `none,before,now${candidateFile ? ',candidate' : ''}`).split(',').map((m) => m.trim());
const load = () => os.loadavg().map((l) => l.toFixed(1)).join(' ');
/**
 * CPU time (ns) a process's threads have run so far (/proc/<pid>/task/<tid>/schedstat): unlike wall
 * time, it does not grow while the process waits for a core. Threads that ended are not counted.
 */
const cpuNs = (pid: number) => {
  try {
    return readdirSync(`/proc/${pid}/task`).reduce((sum, tid) => {
      try { return sum + Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]); } catch { return sum; }
    }, 0);
  } catch { return 0; }
};
/** The stack's PostgREST: the postgrest process serving on `port` (its environment says so). */
const postgrestPids = (port: number) => readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').includes('(postgrest)')
      && readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`PGRST_SERVER_PORT=${port}`);
  } catch { return false; }
});

const stack = await startThrowawayStack({ quiet: true });
const sql = postgres(stack.info.DB_URL, { max: 2, onnotice: () => {} });
try {
  await sql`create extension if not exists pg_stat_statements schema extensions`;
  const users = { dbUrl: stack.info.DB_URL, jwtSecret: stack.info.JWT_SECRET, apiUrl: stack.info.API_URL };
  const endpoints = { apiUrl: stack.info.API_URL, postgrestPort: stack.postgrestPort, dbUrl: stack.info.DB_URL, anonKey: stack.info.ANON_KEY };
  const target = postgrestDirect(endpoints);
  const defOf = async (fn: string) => (await sql<{ def: string }[]>`select pg_get_functiondef(${fn}::regprocedure) as def`)[0]!.def;
  const nowDefs = `${await defOf('private.caller_id()')};\n${await defOf('private.check_request()')};`;
  const beforeDefs = readFileSync(path.join(here, 'sql', 'access_check_before.sql'), 'utf8');
  const noCheckDefs = `create or replace function private.caller_id() returns uuid language sql stable set search_path = ''
    as $$ select auth.uid() $$`;
  const defsOf: Record<string, { defs: string; hook: boolean }> = {
    'none': { defs: noCheckDefs, hook: false },
    before: { defs: beforeDefs, hook: true },
    'before-nohook': { defs: beforeDefs, hook: false },
    now: { defs: nowDefs, hook: true },
    // The hook's statement with an empty body: what the statement itself costs.
    'empty-hook': { defs: `${noCheckDefs};\ncreate or replace function private.check_request() returns void language plpgsql
      stable security definer set search_path to '' as $$ begin end $$`, hook: true },
    candidate: { defs: `${nowDefs}\n${candidateFile ? readFileSync(candidateFile, 'utf8') : ''}`, hook: true },
  };
  for (const mode of modes) if (!defsOf[mode]) throw new Error(`unknown mode ${mode}`);
  // PROFILE_ACCESS_UNDO=<sql file>: what every other mode runs to undo the candidate (e.g. drop its index).
  const undo = process.env.PROFILE_ACCESS_UNDO ? readFileSync(process.env.PROFILE_ACCESS_UNDO, 'utf8') : '';
  for (const [mode, def] of Object.entries(defsOf)) if (mode !== 'candidate' && undo) def.defs += `;\n${undo}`;

  const gone = await newSession(sql, users, 'pa-gone');
  await sql`delete from auth.sessions where user_id = ${gone.userId}`;
  const pushers: Session[] = [];
  for (let i = 0; i < CLIENTS; i++) pushers.push(await newSession(sql, users, `pa-w1-${i}`));
  const puller = await newSession(sql, users, 'pa-w2');
  await fillVaultSql(sql, puller, W2_LOGS);
  const single = await newSession(sql, users, 'pa-w3');

  /** Applies a mode and waits until PostgREST runs (or no longer runs) the hook: only the hook answers an ended session's empty read 401. */
  const apply = async (mode: string) => {
    const { defs, hook } = defsOf[mode]!;
    await sql.unsafe(defs);
    await sql.unsafe(hook ? `alter role authenticator set pgrst.db_pre_request = 'private.check_request'`
      : 'alter role authenticator reset pgrst.db_pre_request');
    await sql.unsafe(`notify pgrst, 'reload config'`);
    const want = hook ? 401 : 200;
    const deadline = Date.now() + 30_000;
    let polls = 0;
    for (;;) {
      const res = await fetch(`http://127.0.0.1:${stack.postgrestPort}/vaults?id=eq.${randomUUID()}&limit=0`, { headers: { authorization: `Bearer ${gone.token}` } });
      await res.arrayBuffer();
      if (res.status === want) return;
      if (Date.now() > deadline) throw new Error(`PostgREST did not switch to "${mode}" (${res.status})`);
      if (++polls % 40 === 0) await sql.unsafe(`notify pgrst, 'reload config'`); // a reload notice can be missed under load
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  // Part 1 (PROFILE_PART sql): PostgREST's transaction replayed on one connection (BEGIN, its
  // set_config statement, the hook's statement when the mode has one, the request's statement,
  // COMMIT), with the backend's CPU time per request: no HTTP, and robust to waiting for a core.
  if (parts.includes('sql')) {
    const one = postgres(stack.info.DB_URL, { max: 1, onnotice: () => {} });
    const pid = (await one<{ pid: number }[]>`select pg_backend_pid() as pid`)[0]!.pid;
    const claims = claimsOf(single);
    let n = 0;
    const kinds: Record<string, (tx: postgres.TransactionSql) => Promise<unknown>> = {
      'push_logs, 1 log': (tx) => tx`select public.push_logs(${single.vaultId}, ${tx.json([{ id: randomUUID(),
        encrypted_data: 'AAAA', nonce: 'AAAAAAAAAAAAAAAA', haex_timestamp: `t${n++}` }])})`,
      'pull_page, 1 log': (tx) => tx`select public.pull_page(${single.vaultId}, 0, 1)::text`,
      'table read (policy)': (tx) => tx`select id from public.vaults where id = ${single.vaultId}`,
      'select 1': (tx) => tx`select 1`,
    };
    const request = (hook: boolean, kind: (tx: postgres.TransactionSql) => Promise<unknown>) => one.begin(async (tx) => {
      await tx`select set_config('search_path', 'public, extensions', true), set_config('role', 'authenticated', true),
               set_config('request.jwt.claims', ${claims}, true), set_config('request.method', 'POST', true)`;
      if (hook) await tx`select private.check_request()`;
      await kind(tx);
    });
    const cpu = new Map<string, number[]>();
    console.log(`SQL part: load average ${load()}; ${SQL_CALLS} requests per kind, mode and round`);
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of modes.map((_, i) => modes[(i + round) % modes.length]!)) {
        await sql.unsafe(defsOf[mode]!.defs);
        for (const [kind, run] of Object.entries(kinds)) {
          for (let i = 0; i < 50; i++) await request(defsOf[mode]!.hook, run); // replans after the functions changed
          const before = cpuNs(pid);
          for (let i = 0; i < SQL_CALLS; i++) await request(defsOf[mode]!.hook, run);
          const key = `${mode}|${kind}`;
          cpu.set(key, [...(cpu.get(key) ?? []), (cpuNs(pid) - before) / 1000 / SQL_CALLS]);
        }
      }
      console.log(`  round ${round + 1} done, load ${load()}`);
    }
    await one.end();
    console.log(`Postgres CPU µs per request, median of ${ROUNDS} rounds (load average now ${load()}):`);
    for (const kind of Object.keys(kinds)) {
      const b = median(cpu.get(`${modes[0]}|${kind}`)!);
      console.log(`  ${kind.padEnd(20)} ${modes.map((mode) => {
        const v = median(cpu.get(`${mode}|${kind}`)!);
        return `${mode}: ${v.toFixed(1)}${mode === modes[0] ? '' : ` (${v >= b ? '+' : ''}${(v - b).toFixed(1)})`}`;
      }).join(' | ')}`);
    }
  }
  const figures = new Map<string, number[]>();
  const record = (mode: string, what: string, value: number) => figures.set(`${mode}|${what}`, [...(figures.get(`${mode}|${what}`) ?? []), value]);
  const httpRounds = parts.includes('http') ? ROUNDS : 0;
  if (httpRounds) console.log(`load average before: ${load()}; modes ${modes.join(' / ')}, ${ROUNDS} rounds, W3 ${W3}, W1 ${CLIENTS}x${SECONDS} s, W2 ${W2_LOGS} logs`);
  for (let round = 0; round < httpRounds; round++) {
    const order = modes.map((_, i) => modes[(i + round) % modes.length]!);
    for (const mode of order) {
      await apply(mode);
      // CPU of every Postgres backend (PostgREST's pooled connections live through the run) and of PostgREST.
      const pids = [...(await sql<{ pid: number }[]>`select pid from pg_stat_activity where backend_type = 'client backend'`).map((r) => r.pid)];
      const rest = postgrestPids(stack.postgrestPort);
      const cpu = () => [pids.reduce((sum, pid) => sum + cpuNs(pid), 0), rest.reduce((sum, pid) => sum + cpuNs(pid), 0)];
      // The warm-up replans push_logs in every pooled connection (replacing a function invalidates their plans).
      const gen = new LogGenerator();
      for (let i = 0; i < WARMUP; i++) await target.push(single, gen.batch(1));
      await sql`select extensions.pg_stat_statements_reset()`;
      const cpuBefore = cpu();
      const w3 = await runLatency(target, single, { count: W3, warmup: 0 });
      const cpuAfter = cpu();
      const statements = await sql<{ query: string; calls: string; ms: number }[]>`
        select query, calls::text, total_exec_time as ms from extensions.pg_stat_statements
        where query not like '%pg_stat_statements%' and calls >= ${W3} order by total_exec_time desc`;
      await resetLogs(sql, pushers);
      const w1 = await runPush(target, pushers, { batch: 100, seconds: SECONDS, warmupSeconds: 1 });
      const w2 = await runPull(target, puller, { expected: W2_LOGS, page: 1000, runs: 1 });
      record(mode, 'W3 p50 ms', w3.p50);
      record(mode, 'W3 SQL ms/request', statements.reduce((sum, s) => sum + s.ms, 0) / W3);
      record(mode, 'W3 PG CPU µs/req', (cpuAfter[0]! - cpuBefore[0]!) / 1000 / W3);
      record(mode, 'W3 PostgREST CPU µs/req', (cpuAfter[1]! - cpuBefore[1]!) / 1000 / W3);
      record(mode, 'W1 logs/s', w1.logsPerSecond);
      record(mode, 'W2 logs/s', w2.logsPerSecond);
      console.log(`round ${round + 1} ${mode.padEnd(16)} W3 p50 ${w3.p50.toFixed(3)} ms (CPU µs/req PG ${Math.round(figures.get(`${mode}|W3 PG CPU µs/req`)!.at(-1)!)}, `
        + `PostgREST ${Math.round(figures.get(`${mode}|W3 PostgREST CPU µs/req`)!.at(-1)!)}), W1 ${Math.round(w1.logsPerSecond)} logs/s, `
        + `W2 ${Math.round(w2.logsPerSecond)} logs/s, load ${load()}`);
      if (round === 0) {
        for (const s of statements) console.log(`    ${s.calls.padStart(5)} calls ${(s.ms / Number(s.calls) * 1000).toFixed(0).padStart(5)} µs  ${s.query.replace(/\s+/g, ' ').slice(0, 110)}`);
      }
    }
  }
  if (httpRounds) console.log(`\nthrough PostgREST, medians of ${ROUNDS} rounds (load average after: ${load()})`);
  const base = modes[0]!;
  for (const what of httpRounds === 0 ? [] : ['W3 p50 ms', 'W3 SQL ms/request', 'W3 PG CPU µs/req', 'W3 PostgREST CPU µs/req', 'W1 logs/s', 'W2 logs/s']) {
    const b = median(figures.get(`${base}|${what}`)!);
    const cells = modes.map((mode) => {
      const v = median(figures.get(`${mode}|${what}`)!);
      const cost = what.startsWith('W3') ? v / b - 1 : b / v - 1; // positive: costs more than the first mode
      return `${mode}: ${v < 10 ? v.toFixed(3) : Math.round(v)}${mode === base ? '' : ` (${cost >= 0 ? '+' : ''}${(cost * 100).toFixed(1)} %)`}`;
    });
    console.log(`${what.padEnd(18)} ${cells.join(' | ')}`);
  }
} finally {
  await sql.end();
  await stack.dispose();
}
