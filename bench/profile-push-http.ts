/**
 * `tsx bench/profile-push-http.ts`: the push through PostgREST (the gateway's /rest/v1, as supabase-js
 * sends it) before and after issue 25 item 3, with the floor statement, in rounds whose order rotates:
 *   - "push_logs before": push_logs as it was (JSON objects; bench/push-logs-before.ts, loaded
 *     on the throwaway database as public.push_logs_before);
 *   - "push_log_columns": the logs as arrays (bench/targets.ts postgrest-gateway, what clients send now);
 *   - "floor": the floor statement over postgres.js (bench/targets.ts sql-floor).
 * PROFILE_EDGE=1 adds the Edge Function's push (edge-sync, through the gateway: push_log_columns' arrays).
 * Per round and shape: PROFILE_CLIENTS (4) clients, each its own vault, pushing batches of 100 for
 * PROFILE_SECONDS (3) s (W1's shape: logs/s), then PROFILE_W3 (200) sequential 1-log pushes (W3: p50).
 * Prints the medians of PROFILE_ROUNDS (5) rounds with the load average before and after. Wall
 * times: on a shared machine compare shapes within one run only.
 */
import { pushLogsBeforeSql } from './push-logs-before.ts';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { startThrowawayStack } from '../tests/support/throwaway-stack.ts';
import { median } from './stats.ts';
import { edgeSync, HttpError, postgrestGateway, postJson, type Session, sqlFloor, type StackEndpoints, type Target } from './targets.ts';
import { newSession, runLatency, runPush } from './workloads.ts';

const num = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
const CLIENTS = num('PROFILE_CLIENTS', 4);
const SECONDS = num('PROFILE_SECONDS', 3);
const W3 = num('PROFILE_W3', 200);
const ROUNDS = num('PROFILE_ROUNDS', 5);
const load = () => os.loadavg()[0]!.toFixed(1);

const stack = await startThrowawayStack({ quiet: true });
const sql = postgres(stack.info.DB_URL, { max: 2, onnotice: () => {} });
try {
  const endpoints: StackEndpoints = { apiUrl: stack.info.API_URL, postgrestPort: 0, dbUrl: stack.info.DB_URL, anonKey: stack.info.ANON_KEY };
  const users = { dbUrl: stack.info.DB_URL, jwtSecret: stack.info.JWT_SECRET, apiUrl: stack.info.API_URL };
  const before = pushLogsBeforeSql('public.push_logs_before');
  await sql.unsafe(before);
  await sql`revoke all on function public.push_logs_before(uuid, jsonb) from public, anon`;
  await sql`grant execute on function public.push_logs_before(uuid, jsonb) to authenticated`;
  await sql`notify pgrst, 'reload schema'`;

  const beforeUrl = new URL(`${endpoints.apiUrl}/rest/v1/rpc/push_logs_before`);
  const beforeTarget: Target = {
    name: 'push_logs before',
    async push(session, logs) {
      const body = JSON.stringify({ vault_id: session.vaultId,
        logs: logs.map((l) => ({ id: l.id, encrypted_data: l.encryptedData, nonce: l.nonce, haex_timestamp: l.haexTimestamp, device_id: l.deviceId })) });
      const answer = await postJson<{ last_sequence: number }>(beforeUrl,
        { authorization: `Bearer ${session.token}`, apikey: endpoints.anonKey }, body);
      return Number(answer.last_sequence);
    },
    pull: () => Promise.reject(new Error('push only')),
    close: async () => {},
  };
  const columns = { ...postgrestGateway(endpoints), name: 'push_log_columns' };
  const floor = sqlFloor(stack.info.DB_URL, CLIENTS);
  const shapes: Array<[Target, Session[]]> = [];
  // PROFILE_EDGE=1: also the Edge Function's POST /sync/push (it sends push_log_columns the arrays).
  for (const target of [floor, beforeTarget, columns, ...(process.env.PROFILE_EDGE ? [edgeSync(endpoints)] : [])]) {
    const sessions: Session[] = [];
    for (let i = 0; i < CLIENTS; i++) sessions.push(await newSession(sql, users, `http-${i}`));
    shapes.push([target, sessions]);
  }
  // PostgREST reloads its schema cache asynchronously: wait until it knows push_logs_before.
  for (let attempt = 0; ; attempt++) {
    try {
      await runLatency(beforeTarget, shapes[1]![1][0]!, { count: 1, warmup: 0 });
      break;
    } catch (error) {
      if (!(error instanceof HttpError) || error.status !== 404 || attempt > 100) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  const w1 = new Map<string, number[]>(shapes.map(([t]) => [t.name, []]));
  const w3 = new Map<string, number[]>(shapes.map(([t]) => [t.name, []]));
  const loadBefore = load();
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < shapes.length; k++) {
      const [target, sessions] = shapes[(round + k) % shapes.length]!;
      const pushed = await runPush(target, sessions, { batch: 100, warmupSeconds: 1, seconds: SECONDS });
      if (pushed.errors) throw new Error(`${target.name}: ${pushed.errors} errors`);
      w1.get(target.name)!.push(pushed.logsPerSecond);
      w3.get(target.name)!.push((await runLatency(target, sessions[0]!, { count: W3, warmup: 20 })).p50);
    }
  }
  const floorW1 = median(w1.get('sql-floor')!);
  console.log(`push through the gateway's PostgREST, ${ROUNDS} rounds (rotated), load ${loadBefore} before / ${load()} after:`);
  for (const [target] of shapes) {
    const logs = median(w1.get(target.name)!);
    console.log(`  ${target.name.padEnd(18)} W1 ${Math.round(logs).toLocaleString('en')} logs/s (${(logs / floorW1).toFixed(2)}x the floor;`
      + ` rounds ${w1.get(target.name)!.map((x) => Math.round(x)).join(' ')})  W3 p50 ${median(w3.get(target.name)!).toFixed(2)} ms`
      + ` (rounds ${w3.get(target.name)!.map((x) => x.toFixed(2)).join(' ')})`);
  }
  await floor.close();
} finally {
  await sql.end();
  await stack.dispose();
}
