/**
 * `npm run bench`: starts a throwaway stack and runs the same workloads on every target
 * (bench/targets.ts), prints one table with every figure, its ratio to the SQL floor and PASS/MISS
 * against the goals (bench/goals.ts), the ratios that fell by more than 15 % against the committed
 * previous results (bench/compare.ts, bench/baseline.json), and writes it all as JSON to
 * bench/results/latest.json. BENCH_SAVE_BASELINE=1 makes this run the new committed previous results.
 *
 * Knobs (env): BENCH_SECONDS (15), BENCH_WARMUP_SECONDS (3), BENCH_CLIENTS (8), BENCH_BATCH (100),
 * BENCH_W2_LOGS (100000), BENCH_W2_RUNS (3), BENCH_W3_COUNT (1000), BENCH_W4_LOGS (200000),
 * BENCH_W5_PUSHES (500), BENCH_W5_FANOUT (50), BENCH_W5_IDLE (1000), BENCH_W5_IDLE_SECONDS (30),
 * BENCH_W6_CHANGES (100000; 1000000 is the issue's size), BENCH_W6_KEYS (changes / 100),
 * BENCH_W7_MIB (256: W7's file size), BENCH_W8_CHANGES (100000: W8's vault size),
 * BENCH_W9_LOGS (1000000: the big vault of W9, the page at 90 % of it vs a 10k vault's, bench/page-time.ts, which also
 * prints the profile of one page), BENCH_W9_ROUNDS (45), BENCH_SETTLE_SECONDS (120: the longest wait, before each
 * workload, for the load average to fall to 1.5; bench/load.ts marks a workload started above it NOT COMPARABLE),
 * BENCH_WORKLOADS (w1,w2,w3,w4,w5,w6,w7,w8,w9; e.g. `BENCH_WORKLOADS=w5` runs W5 alone), BENCH_TARGETS (sql-floor,postgrest-direct,postgrest-gateway,edge-sync),
 * BENCH_SESSION_CHECK (run; skip: no W1-W3 pair with and without the session check, bench/session-check.ts).
 * The stack runs in a child process (bench/stack-process.ts) so that the in-process API gateway does
 * not share the generator's event loop. Everything started here is stopped in `finally`, also on
 * SIGINT/SIGTERM (the stack process also stops itself when this process dies: its stdin closes).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { startStackProcess, type StackProcess } from './stack-process.ts';
import { runSharedVault } from './shared-vault.ts';
import { formatTable, latencyRow, throughputRow, type ResultRow, median } from './stats.ts';
import { edgeSync, postgrestDirect, postgrestGateway, sqlFloor, type Session, type StackEndpoints, type Target } from './targets.ts';
import { fillVaultSql, newSession, resetLogs, runLatency, runPull, runPush } from './workloads.ts';
import { runCatchUp } from './w4.ts';
import { runLiveSync } from './w5.ts';
import { runCompaction } from './w6.ts';
import { runFiles } from './w7.ts';
import { runExportImport } from './w8.ts';
import { goalOf } from './goals.ts';
import { readBaseline, reportFalls, writeBaseline } from './compare.ts';
import { measureSessionCheck } from './session-check.ts';
import { loadSummary, runIsComparable, settle, withLoad, type LoadWindow } from './load.ts';
import { runPageTime } from './page-time.ts';
import { issue25Goals } from './issue25.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const num = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
const knobs = {
  seconds: num('BENCH_SECONDS', 15),
  warmupSeconds: num('BENCH_WARMUP_SECONDS', 3),
  clients: num('BENCH_CLIENTS', 8),
  batch: num('BENCH_BATCH', 100),
  w2Logs: num('BENCH_W2_LOGS', 100_000),
  w2Runs: num('BENCH_W2_RUNS', 3),
  w3Count: num('BENCH_W3_COUNT', 1000),
  w4Logs: num('BENCH_W4_LOGS', 200_000),
  w5Pushes: num('BENCH_W5_PUSHES', 500),
  w5Fanout: num('BENCH_W5_FANOUT', 50),
  w5Idle: num('BENCH_W5_IDLE', 1000),
  w5IdleSeconds: num('BENCH_W5_IDLE_SECONDS', 30),
  w9Logs: num('BENCH_W9_LOGS', 1_000_000),
  w9Rounds: num('BENCH_W9_ROUNDS', 45),
  settleSeconds: num('BENCH_SETTLE_SECONDS', 120),
  workloads: (process.env.BENCH_WORKLOADS ?? 'w1,w2,w3,w4,w5,w6,w7,w8,w9').split(','),
  targets: process.env.BENCH_TARGETS?.split(','),
};

const PUSH_GOAL = (target: string) => goalOf('W1 push', target).minRatio;
const PULL_GOAL = (target: string) => goalOf('W2 pull', target).minRatio;
const LATENCY_GOAL = (target: string) => goalOf('W3 latency', target).maxMs;
const BASELINE_FILE = path.join(here, 'baseline.json');

const t0 = performance.now();
const loadavgAtStart = os.loadavg();
const progress = (line: string) => console.error(`[bench ${((performance.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${line}`);
const r = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

async function main() {
  let stack: StackProcess | undefined;
  let sql: postgres.Sql | undefined;
  const targets: Target[] = [];
  let stopping = false;
  let cleaning: Promise<void> | undefined;
  // Idempotent: the signal handler and main's finally share one cleanup.
  const cleanup = () => (cleaning ??= (async () => {
    for (const target of targets) await target.close().catch(() => {});
    await sql?.end({ timeout: 2 }).catch(() => {});
    await stack?.dispose().catch((error) => progress(`dispose failed: ${String(error)}`));
  })());
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    progress(`${signal}: stopping the stack`);
    void cleanup().finally(() => process.exit(130));
  };
  const checkStop = () => {
    if (stopping) throw new Error('interrupted');
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const rows: ResultRow[] = [];
  const loadWindows: LoadWindow[] = [];
  /** Runs one workload between two load readings (bench/load.ts) and marks its rows with them. */
  const measured = <T>(workload: string, run: () => Promise<T>) => withLoad(workload, rows, loadWindows, knobs.settleSeconds, run);
  const profile: Record<string, unknown> = {};
  let w4: unknown;
  const sessionCheck: string[] = [];
  try {
    progress('starting a throwaway stack (in a child process: the gateway gets its own event loop)');
    stack = await startStackProcess();
    const { info } = stack;
    progress(`stack up: API ${info.API_URL}, PostgREST :${stack.postgrestPort}`);
    sql = postgres(info.DB_URL, { max: 4, onnotice: () => {} });
    const sqlNow = sql; // for the workloads' closures (a let does not stay narrowed in them)
    await sql`create extension if not exists pg_stat_statements schema extensions`;
    const endpoints: StackEndpoints = { apiUrl: info.API_URL, postgrestPort: stack.postgrestPort, dbUrl: info.DB_URL, anonKey: info.ANON_KEY };
    const all = [sqlFloor(info.DB_URL, knobs.clients), postgrestDirect(endpoints), postgrestGateway(endpoints), edgeSync(endpoints)];
    targets.push(...all.filter((t) => t.name === 'sql-floor' || !knobs.targets || knobs.targets.includes(t.name)));
    const users = { dbUrl: info.DB_URL, jwtSecret: info.JWT_SECRET, apiUrl: info.API_URL };
    const floorOf = (workload: string) => rows.find((row) => row.workload === workload && row.target === 'sql-floor')?.value ?? null;
    const topStatements = async (label: string) => {
      profile[label] = await sql!`
        select calls, round(total_exec_time::numeric, 1) as total_ms, round(mean_exec_time::numeric, 3) as mean_ms,
               rows, left(regexp_replace(query, '\\s+', ' ', 'g'), 160) as query
        from extensions.pg_stat_statements order by total_exec_time desc limit 4`;
      await sql!`select extensions.pg_stat_statements_reset()`;
    };

    if (knobs.workloads.includes('w1')) {
      await measured('W1', async () => {
        const sql = sqlNow;
        const sessions: Session[] = [];
        for (let i = 0; i < knobs.clients; i++) sessions.push(await newSession(sql, users, `w1-${i}`));
        // Three rounds, the targets' order flipped every round, each a third of BENCH_SECONDS: the
        // floor measured first and a target minutes later saw different machines (the load rose
        // from 1.4 to 4.2 during the block), which the ratio then reported as the target's speed.
        const rounds = 3;
        const results = new Map<string, Array<Awaited<ReturnType<typeof runPush>>>>(targets.map((t) => [t.name, []]));
        const failed = new Map<string, string>();
        for (let round = 0; round < rounds; round++) {
          const roundKnobs = { batch: knobs.batch, warmupSeconds: round === 0 ? knobs.warmupSeconds : Math.min(1, knobs.warmupSeconds),
            seconds: knobs.seconds / rounds };
          for (const target of round % 2 === 0 ? targets : [...targets].reverse()) {
            checkStop();
            if (failed.has(target.name)) continue;
            await resetLogs(sql, sessions);
            await sql`select extensions.pg_stat_statements_reset()`;
            progress(`W1 push on ${target.name}: ${knobs.clients} clients x batches of ${knobs.batch}, round ${round + 1} of ${rounds}, `
              + `${roundKnobs.warmupSeconds}s warm-up + ${r(roundKnobs.seconds, 1)}s`);
            try {
              const res = await runPush(target, sessions, roundKnobs);
              if (round === 0) await topStatements(`w1:${target.name}`);
              progress(`  ${Math.round(res.logsPerSecond)} logs/s, p50 ${r(res.p50)} ms, p99 ${r(res.p99)} ms, generator CPU ${r(res.generatorCpu * 100, 0)}%`);
              results.get(target.name)!.push(res);
            } catch (error) {
              progress(`  failed: ${(error as Error).message}`);
              failed.set(target.name, (error as Error).message);
            }
          }
        }
        for (const target of targets) { // the floor first: floorOf reads its row
          const error = failed.get(target.name);
          if (error !== undefined) {
            rows.push(throughputRow('W1 push', target.name, null, null, PUSH_GOAL(target.name), undefined, `failed: ${error.slice(0, 160)}`));
            continue;
          }
          const all = results.get(target.name)!;
          const of = (pick: (x: typeof all[number]) => number) => median(all.map(pick));
          const firstError = all.find((x) => x.firstError)?.firstError;
          rows.push(throughputRow('W1 push', target.name, Math.round(of((x) => x.logsPerSecond)), floorOf('W1 push'), PUSH_GOAL(target.name), {
            'p50 ms': r(of((x) => x.p50)), 'p99 ms': r(of((x) => x.p99)), 'gen cpu': r(of((x) => x.generatorCpu)),
            errors: all.reduce((sum, x) => sum + x.errors, 0), runs: all.map((x) => Math.round(x.logsPerSecond)).join('/'),
          }, firstError ? `first error: ${firstError.slice(0, 120)}` : undefined));
        }
        await resetLogs(sql, sessions);
      });
    }

    if (knobs.workloads.includes('w2')) {
      await measured('W2', async () => {
        const sql = sqlNow;
        const session = await newSession(sql, users, 'w2');
        progress(`W2: filling a vault with ${knobs.w2Logs} logs`);
        const fillStart = performance.now();
        await fillVaultSql(sql, session, knobs.w2Logs);
        progress(`  filled in ${r((performance.now() - fillStart) / 1000, 1)} s`);
        // The fill's own load (a 100k-row insert, its vacuum and checkpoint) settles before the reads.
        const settled = await settle(knobs.settleSeconds, () => stopping);
        progress(`  load ${r(os.loadavg()[0]!)} after ${r(settled / 1000, 0)} s of settling`);
        // Rounds alternate the targets (the order flipped every round) instead of running each
        // target's runs back to back: a run takes about a second, and this machine's speed drifts
        // within seconds (one floor run read 264,720 logs/s between two of 158,438 and 165,089),
        // so back-to-back runs put each target in its own weather.
        const runs = new Map<string, number[]>(targets.map((t) => [t.name, []]));
        const cpu = new Map<string, number[]>(targets.map((t) => [t.name, []]));
        const failed = new Map<string, string>();
        for (let round = 0; round < knobs.w2Runs; round++) {
          for (const target of round % 2 === 0 ? targets : [...targets].reverse()) {
            checkStop();
            if (failed.has(target.name)) continue;
            progress(`W2 pull on ${target.name}: ${knobs.w2Logs} logs in pages of 1000, round ${round + 1} of ${knobs.w2Runs}`);
            if (round === 0) await sql`select extensions.pg_stat_statements_reset()`;
            try {
              const res = await runPull(target, session, { expected: knobs.w2Logs, page: 1000, runs: 1 });
              if (round === 0) await topStatements(`w2:${target.name}`);
              progress(`  ${Math.round(res.logsPerSecond)} logs/s`);
              runs.get(target.name)!.push(res.logsPerSecond);
              cpu.get(target.name)!.push(res.generatorCpu);
            } catch (error) {
              progress(`  failed: ${(error as Error).message}`);
              failed.set(target.name, (error as Error).message);
            }
          }
        }
        for (const target of targets) { // the floor first: floorOf reads its row
          const error = failed.get(target.name);
          if (error !== undefined) {
            rows.push(throughputRow('W2 pull', target.name, null, null, PULL_GOAL(target.name), undefined, `failed: ${error.slice(0, 160)}`));
            continue;
          }
          const values = runs.get(target.name)!;
          rows.push(throughputRow('W2 pull', target.name, Math.round(median(values)), floorOf('W2 pull'), PULL_GOAL(target.name), {
            runs: values.map((v) => Math.round(v)).join('/'), 'gen cpu': r(median(cpu.get(target.name)!)),
          }));
        }
      });
    }

    if (knobs.workloads.includes('w1') && knobs.workloads.includes('w2') && !knobs.workloads.includes('no-shared')) {
      await measured('shared vault', async () => {
        const sql = sqlNow;
        rows.push(...await runSharedVault(sql!, users, targets, knobs, progress)); // issue 18: five-member vaults
      });
    }

    if (knobs.workloads.includes('w3')) {
      await measured('W3', async () => {
        const sql = sqlNow;
        for (const target of targets) {
          checkStop();
          const session = await newSession(sql, users, `w3-${target.name}`);
          progress(`W3 latency on ${target.name}: ${knobs.w3Count} sequential pushes of 1 log`);
          try {
            const res = await runLatency(target, session, { count: knobs.w3Count, warmup: 50 });
            progress(`  p50 ${r(res.p50, 3)} ms, p99 ${r(res.p99, 3)} ms`);
            rows.push(latencyRow('W3 latency', target.name, r(res.p50, 3), floorOf('W3 latency'), LATENCY_GOAL(target.name), {
              'p99 ms': r(res.p99, 3), 'mean ms': r(res.mean, 3),
            }));
          } catch (error) {
            progress(`  failed: ${(error as Error).message}`);
            rows.push(latencyRow('W3 latency', target.name, null, null, LATENCY_GOAL(target.name), undefined, `failed: ${(error as Error).message.slice(0, 160)}`));
          }
        }
      });
    }

    if (knobs.workloads.includes('w4')) {
      await measured('W4', async () => {
        const sql = sqlNow;
        checkStop();
        try {
          const res = await runCatchUp({ sql, users, endpoints, logs: knobs.w4Logs, progress });
          w4 = res;
          rows.push(...res.rows);
        } catch (error) {
          progress(`W4 failed: ${(error as Error).stack}`);
          rows.push({ workload: 'W4 catch-up', target: 'client', metric: 'logs/s', value: null, unit: 'logs/s', goal: '>= 50000 logs/s', verdict: 'n/a', note: `failed: ${(error as Error).message.slice(0, 160)}` });
        }
      });
    }

    if (knobs.workloads.includes('w5')) {
      await measured('W5', async () => {
        const sql = sqlNow;
        checkStop();
        try {
          const res = await runLiveSync({
            sql, users, apiUrl: info.API_URL, anonKey: info.ANON_KEY, stackPid: stack!.pid, pushes: knobs.w5Pushes,
            fanout: knobs.w5Fanout, fanoutPushes: 50, idle: knobs.w5Idle, idleSeconds: knobs.w5IdleSeconds, progress,
          });
          progress(`  W5 p50 ${r(res.latency.p50)} ms, p99 ${r(res.latency.p99)} ms; fan-out(${res.fanout.devices}) p50 ${r(res.fanout.p50)} ms, p99 ${r(res.fanout.p99)} ms; `
            + `idle ${res.idle.devices}: RSS ${r(res.idle.rssMiB, 0)} MiB (+${r(res.idle.rssPerDeviceKiB, 1)} KiB/device), CPU ${r(res.idle.cpuPercent, 2)}%`);
          rows.push(latencyRow('W5 live', 'push->applied', r(res.latency.p50), null, 25, { 'p99 ms': r(res.latency.p99), 'p99 goal': '<= 100 ms', n: res.latency.count }));
          rows.push({ ...latencyRow('W5 fan-out', `${res.fanout.devices} devices`, r(res.fanout.p99), null, 250, { 'p50 ms': r(res.fanout.p50), samples: res.fanout.samples }), metric: 'p99 ms' });
          rows.push({ workload: 'W5 idle', target: `${res.idle.devices} devices`, metric: 'stack RSS', value: r(res.idle.rssMiB, 0), unit: 'MiB',
            details: { 'KiB/device': r(res.idle.rssPerDeviceKiB, 1), 'cpu %': r(res.idle.cpuPercent, 2), 'RSS before MiB': r(res.idle.rssBeforeMiB, 0) } });
        } catch (error) {
          progress(`W5 failed: ${(error as Error).stack}`);
          rows.push({ workload: 'W5 live', target: 'push->applied', metric: 'p50 ms', value: null, unit: 'ms', verdict: 'n/a', note: `failed: ${(error as Error).message.slice(0, 160)}` });
        }
      });
    }

    if (knobs.workloads.includes('w6')) {
      await measured('W6', async () => {
        const sql = sqlNow;
        checkStop();
        const changes = num('BENCH_W6_CHANGES', 100_000);
        try {
          const res = await runCompaction({ sql, users, endpoints, changes, keys: num('BENCH_W6_KEYS', Math.round(changes / 100)), progress });
          profile.w6 = res.details;
          rows.push(...res.rows);
        } catch (error) {
          progress(`W6 failed: ${(error as Error).stack}`);
          rows.push({ workload: 'W6 compaction', target: 'client (rpc)', metric: 'speed-up', value: null, unit: 'x', goal: '>= 50x', verdict: 'n/a', note: `failed: ${(error as Error).message.slice(0, 160)}` });
        }
      });
    }
    if (knobs.workloads.includes('w7')) {
      checkStop();
      await measured('W7', async () => {
        try {
          const res = await runFiles({ users, anonKey: info.ANON_KEY, mib: num('BENCH_W7_MIB', 256), progress });
          profile.w7 = res.details;
          rows.push(...res.rows);
        } catch (error) {
          progress(`W7 failed: ${(error as Error).stack}`);
          rows.push({ workload: 'W7 files', target: 'putFile', metric: 'MiB/s', value: null, unit: 'MiB/s', verdict: 'n/a', note: `failed: ${(error as Error).message.slice(0, 160)}` });
        }
      });
    }
    if (knobs.workloads.includes('w8')) {
      checkStop();
      await measured('W8', async () => {
        try {
          const res = await runExportImport({ users, anonKey: info.ANON_KEY, changes: num('BENCH_W8_CHANGES', 100_000), progress });
          profile.w8 = res.details;
          rows.push(...res.rows);
        } catch (error) {
          progress(`W8 failed: ${(error as Error).stack}`);
          rows.push({ workload: 'W8 export/import', target: 'exportArchive', metric: 'changes/s', value: null, unit: 'changes/s', verdict: 'n/a', note: `failed: ${(error as Error).message.slice(0, 160)}` });
        }
      });
    }
    if (knobs.workloads.includes('w9')) {
      checkStop();
      await measured('W9', async () => {
        const sql = sqlNow;
        try {
          const res = await runPageTime({ sql: sql!, users, endpoints, bigLogs: knobs.w9Logs, rounds: knobs.w9Rounds, progress });
          profile.page = res.profile;
          rows.push(...res.rows);
        } catch (error) {
          progress(`W9 failed: ${(error as Error).stack}`);
          rows.push({ workload: 'W9 deep cursor', target: 'postgrest-direct', metric: 'page ms', value: null, unit: 'ms', verdict: 'n/a', note: `failed: ${(error as Error).message.slice(0, 160)}` });
        }
      });
    }
    // Last: it changes the database (issue 19, bench/session-check.ts).
    if (process.env.BENCH_SESSION_CHECK !== 'skip' && ['w1', 'w2', 'w3'].some((w) => knobs.workloads.includes(w))) {
      checkStop();
      const res = await measureSessionCheck({ sql, users, knobs, floorOf, progress, postgrestUrl: `http://127.0.0.1:${stack.postgrestPort}`,
        targets: targets.filter((t) => t.name.startsWith('postgrest-')) });
      rows.push(...res.rows);
      sessionCheck.push(...res.overhead);
    }
  } finally {
    if (!stopping) progress('stopping the stack');
    await cleanup();
    if (stopping) await new Promise(() => {}); // the signal handler exits once cleanup is done
  }

  const totalSeconds = (performance.now() - t0) / 1000;
  const table = formatTable(rows);
  console.log(`\n${table}\n`);
  const baseline = readBaseline(BASELINE_FILE);
  const comparison = reportFalls(rows, baseline);
  console.log(comparison.join('\n'));
  const goals = issue25Goals(rows, baseline);
  console.log(`\n${goals}\n`);
  const conditions = loadSummary(loadWindows);
  console.log(conditions);
  if (sessionCheck.length > 0) console.log(sessionCheck.join('\n'));
  console.log(`total runtime ${totalSeconds.toFixed(1)} s, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} (at start ${loadavgAtStart.map((l) => l.toFixed(1)).join(' ')})`);
  const cpuModel = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? os.cpus()[0]?.model;
  const out = {
    date: new Date().toISOString(), totalSeconds: r(totalSeconds, 1), knobs,
    machine: { cpus: os.cpus().length, cpuModel, memoryGiB: r(os.totalmem() / 2 ** 30, 1), node: process.version, loadavgAtStart, loadavgAtEnd: os.loadavg() },
    rows, w4, profile, table, comparison, sessionCheck, goals, loadWindows, comparable: runIsComparable(loadWindows), conditions,
  };
  mkdirSync(path.join(here, 'results'), { recursive: true });
  writeFileSync(path.join(here, 'results', 'latest.json'), `${JSON.stringify(out, null, 2)}\n`);
  progress('wrote bench/results/latest.json');
  if (process.env.BENCH_SAVE_BASELINE === '1' && !runIsComparable(loadWindows)) {
    progress('NOT saving bench/baseline.json: this run is not comparable (load above 1.5 before a workload)');
  } else if (process.env.BENCH_SAVE_BASELINE === '1') {
    writeBaseline(BASELINE_FILE, rows, `npm run bench, ${knobs.workloads.join(',')}, load average at start ${loadavgAtStart.map((l) => l.toFixed(1)).join(' ')}`);
    progress('wrote bench/baseline.json (commit it with the figures it backs)');
  }
}

main().then(() => process.exit(0), (error) => {
  console.error(error);
  process.exit(1);
});
