/**
 * What the session check of issue 19 costs (goal: at most +10 % on W1, W2 and W3 through PostgREST).
 * Runs last in `npm run bench` (BENCH_SESSION_CHECK=skip leaves it out), because it switches the
 * throwaway stack's database between two modes:
 *   "session check"     as the migrations leave it: private.caller_id() checks auth.sessions and
 *                       devices, and PostgREST runs private.check_request() before each request;
 *   "no session check"  caller_id() is auth.uid() again (as before issue 19) and the hook is off.
 * The device lookup of push_logs stays in both: it is authorship, not the check.
 *
 * This machine's throughput drifts by tens of percent within minutes (other work on its two cores),
 * more than the check costs, so one pass per mode says little. The modes alternate instead:
 * BENCH_SESSION_CHECK_ROUNDS rounds (default 3), each running W1 (a third of BENCH_SECONDS), W2
 * (one pull of the vault) and W3 (a third of BENCH_W3_COUNT) per PostgREST target in both modes, the
 * order of the modes flipped every round; each figure is the median of its rounds. Prints the
 * overhead of each pair; both rows land in the results table.
 */
import { randomUUID } from 'node:crypto';
import type postgres from 'postgres';
import { latencyRow, type ResultRow, throughputRow } from './stats.ts';
import type { Session, Target } from './targets.ts';
import { fillVaultSql, newSession, resetLogs, runLatency, runPull, runPush, type UserFactory } from './workloads.ts';

export interface SessionCheckRun {
  sql: postgres.Sql;
  users: UserFactory;
  targets: Target[];
  postgrestUrl: string;
  knobs: { clients: number; batch: number; seconds: number; warmupSeconds: number; w2Logs: number; w3Count: number };
  floorOf: (workload: string) => number | null;
  progress: (line: string) => void;
}

type Mode = 'session check' | 'no session check';
const r = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/**
 * Switches the mode and waits until PostgREST runs (or no longer runs) its pre-request hook: a read
 * that matches nothing, with the token of a session that has ended, is 401 only through the hook.
 * `limit=0`: the statement then fetches no row, so no policy runs whatever plan the vaults policy
 * gets (as a semi-join, member_vault_ids() runs first and its session check answered 401 without
 * the hook, the likely cause of "PostgREST did not switch" seen twice at load 10).
 */
async function switchMode(run: SessionCheckRun, mode: Mode, gone: Session, checkingCallerId: string): Promise<void> {
  const { sql } = run;
  if (mode === 'session check') {
    await sql.unsafe(checkingCallerId);
    await sql.unsafe(`alter role authenticator set pgrst.db_pre_request = 'private.check_request'; notify pgrst, 'reload config'`);
  } else {
    // The hook goes first: while caller_id still checks, a 200 below proves PostgREST dropped the hook.
    await sql.unsafe(`alter role authenticator reset pgrst.db_pre_request; notify pgrst, 'reload config'`);
  }
  const want = mode === 'session check' ? 401 : 200;
  const deadline = Date.now() + 30_000;
  let polls = 0;
  for (;;) {
    const res = await fetch(`${run.postgrestUrl}/vaults?id=eq.${randomUUID()}&limit=0`, { headers: { authorization: `Bearer ${gone.token}` } });
    await res.arrayBuffer();
    if (res.status === want) break;
    if (Date.now() > deadline) throw new Error(`PostgREST did not switch to "${mode}" (${res.status})`);
    // A reload notice can be missed under load (seen once at load 10): ask again every 2 s.
    if (++polls % 40 === 0) await sql.unsafe(`notify pgrst, 'reload config'`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (mode === 'no session check') {
    await sql.unsafe(`create or replace function private.caller_id() returns uuid language sql stable set search_path = ''
      as $$ select auth.uid() $$`);
  }
}

/** Both modes, alternating; the rows, and one line per workload and target with the check's overhead. */
export async function measureSessionCheck(run: SessionCheckRun): Promise<{ rows: ResultRow[]; overhead: string[] }> {
  const { sql, users, knobs, progress } = run;
  const rounds = Number(process.env.BENCH_SESSION_CHECK_ROUNDS ?? 3);
  progress(`session check (issue 19): W1-W3 on PostgREST with and without the check, ${rounds} alternating rounds`);
  const [definition] = await sql<{ def: string }[]>`select pg_get_functiondef('private.caller_id()'::regprocedure) as def`;
  const checkingCallerId = definition!.def;
  const gone = await newSession(sql, users, 'sc-gone');
  await sql`delete from auth.sessions where user_id = ${gone.userId}`;
  const pushers: Session[] = [];
  for (let i = 0; i < knobs.clients; i++) pushers.push(await newSession(sql, users, `sc-w1-${i}`));
  const puller = await newSession(sql, users, 'sc-w2');
  await fillVaultSql(sql, puller, knobs.w2Logs);
  const latencySessions = new Map<string, Session>();
  for (const target of run.targets) latencySessions.set(target.name, await newSession(sql, users, `sc-w3-${target.name}`));

  const figures = new Map<string, number[]>(); // `${mode}|${workload}|${target}` -> one value per round
  const record = (mode: Mode, workload: string, target: string, value: number) => {
    const key = `${mode}|${workload}|${target}`;
    figures.set(key, [...(figures.get(key) ?? []), value]);
  };
  const seconds = Math.max(3, Math.round(knobs.seconds / rounds));
  for (let round = 0; round < rounds; round++) {
    const order: Mode[] = round % 2 === 0 ? ['session check', 'no session check'] : ['no session check', 'session check'];
    for (const mode of order) {
      await switchMode(run, mode, gone, checkingCallerId);
      for (const target of run.targets) {
        await resetLogs(sql, pushers);
        const push = await runPush(target, pushers, { ...knobs, seconds, warmupSeconds: Math.min(knobs.warmupSeconds, 1) });
        const pull = await runPull(target, puller, { expected: knobs.w2Logs, page: 1000, runs: 1 });
        const latency = await runLatency(target, latencySessions.get(target.name)!,
          { count: Math.max(100, Math.round(knobs.w3Count / rounds)), warmup: 20 });
        record(mode, 'W1 push', target.name, push.logsPerSecond);
        record(mode, 'W2 pull', target.name, pull.logsPerSecond);
        record(mode, 'W3 latency', target.name, latency.p50);
        progress(`  round ${round + 1}, ${target.name} (${mode}): W1 ${Math.round(push.logsPerSecond)} logs/s, `
          + `W2 ${Math.round(pull.logsPerSecond)} logs/s, W3 p50 ${r(latency.p50, 3)} ms`);
      }
    }
  }
  await switchMode(run, 'session check', gone, checkingCallerId); // as the migrations left it
  await resetLogs(sql, pushers);

  const rows: ResultRow[] = [];
  const overhead: string[] = [];
  for (const workload of ['W1 push', 'W2 pull', 'W3 latency']) {
    for (const target of run.targets) {
      const values = (mode: Mode) => figures.get(`${mode}|${workload}|${target.name}`) ?? [];
      const [withCheck, without] = [median(values('session check')), median(values('no session check'))];
      for (const [mode, value] of [['session check', withCheck], ['no session check', without]] as const) {
        const name = `${target.name} (${mode})`;
        const details = { rounds: values(mode).map((v) => r(v, workload === 'W3 latency' ? 3 : 0)).join('/') };
        rows.push(workload === 'W3 latency'
          ? latencyRow(workload, name, r(value, 3), run.floorOf(workload), undefined, details)
          : throughputRow(workload, name, Math.round(value), run.floorOf(workload), undefined, details));
      }
      // Throughput: how much slower; latency: how much longer. Positive = the check costs.
      const cost = workload === 'W3 latency' ? withCheck / without - 1 : without / withCheck - 1;
      const unit = workload === 'W3 latency' ? 'ms p50' : 'logs/s';
      overhead.push(`session check overhead, ${workload} ${target.name}: ${(cost * 100).toFixed(1)} % `
        + `(median of ${rounds}: ${r(withCheck, 3)} vs ${r(without, 3)} ${unit}; goal <= 10 %)`);
    }
  }
  return { rows, overhead };
}
