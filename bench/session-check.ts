/**
 * What the session check of issue 19 costs (goal: at most +10 % on W1, W2 and W3 through PostgREST).
 * Runs last in `npm run bench` (BENCH_SESSION_CHECK=skip leaves it out), because it changes the
 * throwaway stack's database: W1, W2 and W3 on the PostgREST targets back to back, first as the
 * migrations leave it ("session check": private.caller_id() checks auth.sessions and devices, and
 * PostgREST runs private.check_request() before each request), then with the check taken out
 * ("no session check": caller_id() is auth.uid() again, as before issue 19, and the pre-request hook
 * is off). The device lookup of push_logs stays in both: it is authorship, not the check.
 * Prints the overhead of each pair; both rows land in the results table.
 */
import type postgres from 'postgres';
import { latencyRow, type ResultRow, throughputRow } from './stats.ts';
import type { Session, Target } from './targets.ts';
import { fillVaultSql, newSession, resetLogs, runLatency, runPull, runPush, type UserFactory } from './workloads.ts';

export interface SessionCheckRun {
  sql: postgres.Sql;
  users: UserFactory;
  targets: Target[];
  postgrestUrl: string;
  knobs: { clients: number; batch: number; seconds: number; warmupSeconds: number; w2Logs: number; w2Runs: number; w3Count: number };
  floorOf: (workload: string) => number | null;
  progress: (line: string) => void;
}

const r = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

/** Takes the check out and waits until PostgREST no longer runs the pre-request hook. */
async function turnOffSessionCheck(sql: postgres.Sql, postgrestUrl: string, session: Session): Promise<void> {
  await sql.unsafe(`
    create or replace function private.caller_id() returns uuid language sql stable set search_path = '' as $$ select auth.uid() $$;
    alter role authenticator reset pgrst.db_pre_request;
    -- A hook still called fails: the wait below sees when PostgREST has reloaded its configuration.
    create or replace function private.check_request() returns void language plpgsql stable set search_path = ''
      as $$ begin raise exception using errcode = 'PT503', message = 'pre-request hook still configured'; end $$;
    notify pgrst, 'reload config';`);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const res = await fetch(`${postgrestUrl}/rpc/list_vaults`, {
      method: 'POST', headers: { authorization: `Bearer ${session.token}`, 'content-type': 'application/json' }, body: '{}',
    });
    await res.arrayBuffer();
    if (res.ok) return;
    if (Date.now() > deadline) throw new Error(`PostgREST kept the pre-request hook (${res.status})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function pass(run: SessionCheckRun, label: string): Promise<ResultRow[]> {
  const { sql, users, knobs, progress } = run;
  const rows: ResultRow[] = [];
  const sessions: Session[] = [];
  for (let i = 0; i < knobs.clients; i++) sessions.push(await newSession(sql, users, `sc-w1-${i}`));
  const pullSession = await newSession(sql, users, 'sc-w2');
  await fillVaultSql(sql, pullSession, knobs.w2Logs);
  for (const target of run.targets) {
    const name = `${target.name} (${label})`;
    await resetLogs(sql, sessions);
    const push = await runPush(target, sessions, knobs);
    rows.push(throughputRow('W1 push', name, Math.round(push.logsPerSecond), run.floorOf('W1 push'), undefined, { errors: push.errors }));
    const pull = await runPull(target, pullSession, { expected: knobs.w2Logs, page: 1000, runs: knobs.w2Runs });
    rows.push(throughputRow('W2 pull', name, Math.round(pull.logsPerSecond), run.floorOf('W2 pull'), undefined,
      { runs: pull.runs.map((v) => Math.round(v)).join('/') }));
    const latency = await runLatency(target, await newSession(sql, users, `sc-w3-${target.name}`), { count: knobs.w3Count, warmup: 50 });
    rows.push(latencyRow('W3 latency', name, r(latency.p50, 3), run.floorOf('W3 latency'), undefined, { 'p99 ms': r(latency.p99, 3) }));
    progress(`  ${name}: W1 ${Math.round(push.logsPerSecond)} logs/s, W2 ${Math.round(pull.logsPerSecond)} logs/s, W3 p50 ${r(latency.p50, 3)} ms`);
  }
  await resetLogs(sql, sessions);
  return rows;
}

/** Both passes; the rows, and one line per workload and target with the check's overhead. */
export async function measureSessionCheck(run: SessionCheckRun): Promise<{ rows: ResultRow[]; overhead: string[] }> {
  run.progress('session check (issue 19): W1-W3 on PostgREST with the check, then without it');
  const withCheck = await pass(run, 'session check');
  await turnOffSessionCheck(run.sql, run.postgrestUrl, (await newSession(run.sql, run.users, 'sc-off')));
  const without = await pass(run, 'no session check');
  const overhead: string[] = [];
  for (const row of withCheck) {
    const base = without.find((w) => w.workload === row.workload && w.target === row.target.replace('(session check)', '(no session check)'));
    if (!base?.value || !row.value) continue;
    // Throughput: how much slower; latency: how much longer. Positive = the check costs.
    const cost = row.unit === 'ms' ? row.value / base.value - 1 : base.value / row.value - 1;
    overhead.push(`session check overhead, ${row.workload} ${row.target.replace(' (session check)', '')}: ${(cost * 100).toFixed(1)} % `
      + `(${row.value} vs ${base.value} ${row.unit}; goal <= 10 %)`);
  }
  return { rows: [...withCheck, ...without], overhead };
}
