/**
 * `tsx bench/profile-growth.ts`: does a push get slower as its vault grows? On a throwaway stack,
 * public.push_logs and the candidate shape of bench/sql/push_logs_candidate.sql (each on its own
 * vault, as `authenticated` with JWT claims, no HTTP) alternate: p50 of 60 pushes of 1 log and of
 * 50 pushes of 100 logs, per round, while the vaults grow by ~5,000 logs a round (no ANALYZE in
 * between, as for a vault that grows faster than autovacuum looks). PROFILE_ROUNDS (5).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { startStackProcess } from './stack-process.ts';
import { percentile } from './stats.ts';
import type { Session } from './targets.ts';
import { claimsOf, LogGenerator, newSession } from './workloads.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROUNDS = Number(process.env.PROFILE_ROUNDS ?? 5);
const stack = await startStackProcess();
try {
  const sql = postgres(stack.info.DB_URL, { max: 1, onnotice: () => {} });
  await sql.unsafe(readFileSync(path.join(here, 'sql', 'push_logs_candidate.sql'), 'utf8'));
  const users = { dbUrl: stack.info.DB_URL, jwtSecret: stack.info.JWT_SECRET, apiUrl: stack.info.API_URL };
  const current = await newSession(sql, users, 'growth-current');
  const candidate = await newSession(sql, users, 'growth-candidate');
  const gen = new LogGenerator();
  const logs = (n: number) => gen.batch(n).map((l) => ({ id: l.id, encrypted_data: l.encryptedData, nonce: l.nonce, haex_timestamp: l.haexTimestamp, device_id: l.deviceId }));
  const push = (which: 'current' | 'candidate', s: Session, n: number) => sql.begin(async (tx) => {
    await tx`select set_config('request.jwt.claims', ${claimsOf(s)}, true),
                    set_config('role', 'authenticated', true)`;
    return which === 'current'
      ? tx`select public.push_logs(${s.vaultId}::uuid, ${tx.json(logs(n) as never)}::jsonb)`
      : tx`select bench.push_logs_candidate(${s.vaultId}::uuid, ${tx.json(logs(n) as never)}::jsonb)`;
  });
  const timed = async (count: number, fn: () => Promise<unknown>) => {
    const latencies: number[] = [];
    for (let i = 0; i < count; i++) {
      const started = performance.now();
      await fn();
      latencies.push(performance.now() - started);
    }
    return percentile(latencies, 50).toFixed(2);
  };
  for (let round = 0; round < ROUNDS; round++) {
    const parts: string[] = [];
    for (const [which, s] of [['current', current], ['candidate', candidate]] as const) {
      const n = (await sql<{ n: string }[]>`select last_sequence::text as n from public.vaults where id = ${s.vaultId}`)[0]?.n;
      const one = await timed(60, () => push(which, s, 1));
      const hundred = await timed(50, () => push(which, s, 100));
      parts.push(`${which} (vault at ${n}): p50 1 log ${one} ms, 100 logs ${hundred} ms`);
    }
    console.log(parts.join(' | '));
  }
  await sql.end();
} finally {
  await stack.dispose();
}
