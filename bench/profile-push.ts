/**
 * `tsx bench/profile-push.ts`: where the push spends its time, without HTTP and without
 * concurrency. On a throwaway stack, one connection pushes the same batches (100 logs) through
 * (a) the floor statement, (b) public.push_logs (JSON objects) and (c) public.push_log_columns
 * (arrays, issue 25 item 3) as `authenticated` with the JWT claims set, as PostgREST does, in
 * PROFILE_ROUNDS (5) rounds whose order rotates; prints the medians with the load average, then
 * pg_stat_statements with track = all (the statements inside plpgsql; PROFILE_TOP rows, 16).
 * PROFILE_SQL=<file> runs a SQL file on the throwaway database first (a variant of a function to time).
 * PROFILE_DROP_FKS=1 drops sync_logs' two foreign keys first (what their per-row checks cost, floor included).
 * PROFILE_BEFORE=1 adds push_logs as it was before item 3 (bench/push-logs-before.ts) to the rounds.
 * PROFILE_CANDIDATE=1 also times bench/sql/push_logs_candidate.sql (a faster shape) the same way.
 * PROFILE_CALLS (200), PROFILE_BATCH (100), PROFILE_PREFILL (logs already in the vaults, 0), PROFILE_EXPLAIN=1 (auto_explain).
 */
import { pushLogsBeforeSql } from './push-logs-before.ts';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import postgres from 'postgres';
import { startThrowawayStack } from '../tests/support/throwaway-stack.ts';
import { median } from './stats.ts';
import { type BenchLog, sqlFloor } from './targets.ts';
import { claimsOf, fillVaultSql, LogGenerator, newSession } from './workloads.ts';

const N = Number(process.env.PROFILE_CALLS ?? 200);
const BATCH = Number(process.env.PROFILE_BATCH ?? 100);
const stack = await startThrowawayStack({ quiet: true });
try {
  const sql = postgres(stack.info.DB_URL, { max: 1, onnotice: () => {}, connection: { 'pg_stat_statements.track': 'all' } });
  const users = { dbUrl: stack.info.DB_URL, jwtSecret: stack.info.JWT_SECRET, apiUrl: stack.info.API_URL };
  await sql`create extension if not exists pg_stat_statements schema extensions`;
  // A variant to time in place of what the migrations built (e.g. a function body changed), run first.
  if (process.env.PROFILE_SQL) await sql.unsafe(readFileSync(process.env.PROFILE_SQL, 'utf8'));
  if (process.env.PROFILE_DROP_FKS) {
    // What the two foreign keys of sync_logs cost (measurement only: the migrations keep both).
    await sql`alter table public.sync_logs drop constraint sync_logs_vault_id_fkey, drop constraint sync_logs_author_id_fkey`;
  }
  const a = await newSession(sql, users, 'prof-a');
  const b = await newSession(sql, users, 'prof-b');
  const prefill = Number(process.env.PROFILE_PREFILL ?? 0); // logs already in both vaults
  if (prefill) {
    await fillVaultSql(sql, a, prefill);
    await fillVaultSql(sql, b, prefill);
  }
  const c = await newSession(sql, users, 'prof-c');
  if (prefill) await fillVaultSql(sql, c, prefill);
  const floor = sqlFloor(stack.info.DB_URL, 1, 'profile-push-floor'); // its own connection: top-level statements only
  const gen = new LogGenerator();
  const asUser = (session: typeof b, call: (tx: postgres.TransactionSql) => Promise<unknown>) => {
    const claims = claimsOf(session);
    return sql.begin(async (tx) => {
      await tx`select set_config('request.jwt.claims', ${claims}, true), set_config('role', 'authenticated', true)`;
      return call(tx);
    });
  };
  // What PostgREST sends for each: push_logs' JSON objects, push_log_columns' arrays (issue 25, item 3).
  const jsonPush = (logs: BenchLog[]) => asUser(b, (tx) => tx`select public.push_logs(${b.vaultId}::uuid, ${tx.json(
    logs.map((l) => ({ id: l.id, encrypted_data: l.encryptedData, nonce: l.nonce, haex_timestamp: l.haexTimestamp, device_id: l.deviceId })) as never)}::jsonb) as r`);
  const columnPush = (logs: BenchLog[]) => asUser(c, (tx) => tx`select public.push_log_columns(${c.vaultId}::uuid,
    ${logs.map((l) => l.id)}::uuid[], ${logs.map((l) => l.encryptedData)}::text[], ${logs.map((l) => l.nonce)}::text[],
    ${logs.map((l) => l.haexTimestamp)}::text[]) as r`);
  const shapes: Array<[string, (logs: BenchLog[]) => Promise<unknown>]> = [
    ['floor statement', (logs) => floor.push(a, logs)],
    ['push_logs (jsonb)', jsonPush],
    ['push_log_columns', columnPush],
  ];
  if (process.env.PROFILE_BEFORE) {
    // push_logs as it was before issue 25 item 3 (bench/push-logs-before.ts), on a vault of its own.
    await sql`create schema if not exists bench`;
    await sql.unsafe(pushLogsBeforeSql('bench.push_logs_before'));
    await sql`grant usage on schema bench to authenticated`;
    await sql`grant execute on function bench.push_logs_before(uuid, jsonb) to authenticated`;
    const d = await newSession(sql, users, 'prof-before');
    if (prefill) await fillVaultSql(sql, d, prefill);
    shapes.push(['push_logs before', (logs) => asUser(d, (tx) => tx`select bench.push_logs_before(${d.vaultId}::uuid, ${tx.json(
      logs.map((l) => ({ id: l.id, encrypted_data: l.encryptedData, nonce: l.nonce, haex_timestamp: l.haexTimestamp, device_id: l.deviceId })) as never)}::jsonb) as r`)]);
  }
  for (const [, run] of shapes) await run(gen.batch(BATCH)); // warm: plans cached
  // CPU time of the two backends (/proc/<pid>/stat utime + stime): what a shape costs PostgreSQL,
  // whatever else runs on the machine (wall times on these shared cores are not).
  const ownPid = Number((await sql`select pg_backend_pid() as pid`)[0]!.pid);
  const floorPid = Number((await sql`select pid from pg_stat_activity where application_name = 'profile-push-floor'`)[0]!.pid);
  const cpuMs = (pid: number) => {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 1000 / 100; // utime + stime, in ticks of 1/100 s (CLK_TCK)
  };
  const cpu = new Map<string, number>(shapes.map(([name]) => [name, 0]));
  await sql`select extensions.pg_stat_statements_reset()`;
  // Rounds of N calls each, the order rotated every round, so that this machine's drift falls on every shape alike.
  const ROUNDS = Number(process.env.PROFILE_ROUNDS ?? 5);
  const times = new Map<string, number[]>(shapes.map(([name]) => [name, []]));
  const loadBefore = os.loadavg()[0]!.toFixed(1);
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < shapes.length; k++) {
      const [name, run] = shapes[(round + k) % shapes.length]!;
      const pid = name === 'floor statement' ? floorPid : ownPid;
      const c0 = cpuMs(pid);
      const t = performance.now();
      for (let i = 0; i < N; i++) await run(gen.batch(BATCH));
      times.get(name)!.push((performance.now() - t) / N);
      cpu.set(name, cpu.get(name)! + cpuMs(pid) - c0);
    }
  }
  const loadAfter = os.loadavg()[0]!.toFixed(1);
  const floorMs = median(times.get('floor statement')!);
  console.log(`batches of ${BATCH}, ${ROUNDS} rounds x ${N} calls, load ${loadBefore} before / ${loadAfter} after; ms per batch incl. client (median of rounds):`);
  for (const [name, list] of times) {
    const ms = median(list);
    console.log(`  ${name.padEnd(18)} ${ms.toFixed(2)} ms  (${(floorMs / ms).toFixed(2)}x the floor; rounds ${list.map((x) => x.toFixed(2)).join(' ')})`);
  }
  const floorCpu = cpu.get('floor statement')! / (ROUNDS * N);
  console.log('PostgreSQL CPU per batch (its backend, all rounds):');
  for (const [name, total] of cpu) {
    const per = total / (ROUNDS * N);
    console.log(`  ${name.padEnd(18)} ${per.toFixed(2)} ms  (${(floorCpu / per).toFixed(2)}x the floor)`);
  }
  const top = await sql`
    select calls, round(mean_exec_time::numeric, 3) as mean_ms, round(total_exec_time::numeric) as total_ms,
           left(regexp_replace(query, '\\s+', ' ', 'g'), 110) as query
    from extensions.pg_stat_statements where calls >= ${N} order by total_exec_time desc limit ${Number(process.env.PROFILE_TOP ?? 16)}`;
  console.table(top.map((r) => ({ ...r })));
  const claims = claimsOf(b);
  const rpcBatch = () => gen.batch(BATCH).map((l) => ({ id: l.id, encrypted_data: l.encryptedData, nonce: l.nonce, haex_timestamp: l.haexTimestamp, device_id: l.deviceId }));
  if (process.env.PROFILE_CANDIDATE) {
    // The candidate shape of bench/sql/push_logs_candidate.sql, same batches, on a vault of its own.
    await sql.unsafe(readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'sql', 'push_logs_candidate.sql'), 'utf8'));
    const cand = await newSession(sql, users, 'prof-cand');
    if (prefill) await fillVaultSql(sql, cand, prefill);
    const claimsC = claimsOf(cand);
    const candidate = (logs: object) => sql.begin(async (tx) => {
      await tx`select set_config('request.jwt.claims', ${claimsC}, true), set_config('role', 'authenticated', true)`;
      return tx`select bench.push_logs_candidate(${cand.vaultId}::uuid, ${tx.json(logs as never)}::jsonb) as r`;
    });
    const first = (await candidate(rpcBatch()))[0]?.r;
    if ((first as { results: unknown[] }).results.length !== BATCH) throw new Error(`candidate answered ${JSON.stringify(first).slice(0, 200)}`);
    await sql`select extensions.pg_stat_statements_reset()`;
    const t = performance.now();
    for (let i = 0; i < N; i++) await candidate(rpcBatch());
    console.log(`candidate push_logs: ${((performance.now() - t) / N).toFixed(2)} ms per batch of ${BATCH} (incl. client, BEGIN/set_config/COMMIT)`);
    const [row] = await sql`select round(mean_exec_time::numeric, 3) as mean_ms from extensions.pg_stat_statements
                             where query like 'select bench.push_logs_candidate%'`;
    console.log(`candidate push_logs: ${row?.mean_ms} ms per call inside Postgres`);
  }
  if (process.env.PROFILE_EXPLAIN) {
    // auto_explain of the statements inside push_log_columns (what clients call) and of the floor
    // statement, as notices, for a few more calls (plans are generic by now).
    const plans: string[] = [];
    const ex = postgres(stack.info.DB_URL, { max: 1, onnotice: (n) => plans.push(String(n.message)) });
    await ex`load 'auto_explain'`;
    await ex`select set_config('auto_explain.log_min_duration', '0', false), set_config('auto_explain.log_analyze', 'on', false),
                    set_config('auto_explain.log_nested_statements', 'on', false), set_config('auto_explain.log_level', 'notice', false)`;
    const claimsC = claimsOf(c);
    for (let i = 0; i < 7; i++) {
      plans.length = 0;
      const logs = gen.batch(BATCH);
      await ex.begin(async (tx) => {
        await tx`select set_config('request.jwt.claims', ${claimsC}, true), set_config('role', 'authenticated', true)`;
        return tx`select public.push_log_columns(${c.vaultId}::uuid, ${logs.map((l) => l.id)}::uuid[],
          ${logs.map((l) => l.encryptedData)}::text[], ${logs.map((l) => l.nonce)}::text[], ${logs.map((l) => l.haexTimestamp)}::text[]) as r`;
      });
    }
    console.log(plans.filter((p) => Number(/duration: ([\d.]+)/.exec(p)?.[1]) > 0.2).map((p) => p.replace(/Query Parameters:.*\n/, '')).join('\n\n'));
    for (let i = 0; i < 7; i++) {
      plans.length = 0;
      const logs = gen.batch(BATCH);
      let bytes = 0;
      for (const log of logs) bytes += log.encryptedData.length + log.nonce.length + log.haexTimestamp.length;
      await ex`
        with v as (
          update public.vaults set last_sequence = last_sequence + ${BATCH}, bytes = bytes + ${bytes}, updated_at = now()
          where id = ${a.vaultId}
          returning last_sequence - ${BATCH}::bigint as base, owner_id
        ), ins as (
          insert into public.sync_logs (vault_id, sequence, id, author_id, device_id, encrypted_data, nonce, haex_timestamp)
          select ${a.vaultId}::uuid, v.base + t.ord, t.id, v.owner_id, t.device_id, t.data, t.nonce, t.ts
          from v, unnest(${logs.map((l) => l.id)}::uuid[], ${logs.map((l) => l.encryptedData)}::text[],
                         ${logs.map((l) => l.nonce)}::text[], ${logs.map((l) => l.haexTimestamp)}::text[],
                         ${logs.map((l) => l.deviceId)}::text[]) with ordinality as t(id, data, nonce, ts, device_id, ord)
          returning sequence
        )
        select max(sequence)::text as last from ins`;
    }
    console.log('--- floor ---');
    console.log(plans.filter((p) => Number(/duration: ([\d.]+)/.exec(p)?.[1]) > 0.2).map((p) => p.replace(/Query Parameters:.*\n/, '')).join('\n\n'));
    await ex.end();
  }
  await floor.close();
  await sql.end();
} finally {
  await stack.dispose();
}
