/**
 * The workloads of `npm run bench`, the same generator for every target:
 *   W1 push:    N concurrent clients (own user + vault each), batches of 100 logs of 256 random
 *               bytes (base64) + 12-byte nonce + HLC-like timestamp; warm-up, then a measured window.
 *   W2 pull:    one vault pre-filled by superuser SQL, read from the start in pages of 1,000.
 *   W3 latency: sequential pushes of one log; p50/p99.
 * Setup helpers (users, vaults, fast fills) use the superuser connection, never the API under test.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type postgres from 'postgres';
import { ensureUser } from '../stack/users.ts';
import { median, percentile, cpuMeter } from './stats.ts';
import type { BenchLog, Session, Target } from './targets.ts';

// --- generator -----------------------------------------------------------------------------------

/** Random payloads are drawn from a pool so that the generator spends its CPU on requests, not on randomness. */
const POOL = 4096;
const dataPool = Array.from({ length: POOL }, () => randomBytes(256).toString('base64'));
const noncePool = Array.from({ length: POOL }, () => randomBytes(12).toString('base64'));

export class LogGenerator {
  private counter = 0;
  private cursor = Math.floor(Math.random() * POOL);
  constructor(readonly deviceId = `bench-${randomUUID().slice(0, 8)}`) {}

  /** HLC-like: wall clock + logical counter + node id. */
  private timestamp(): string {
    this.counter = (this.counter + 1) % 10_000;
    return `${new Date().toISOString()}-${String(this.counter).padStart(4, '0')}-${this.deviceId}`;
  }

  batch(size: number): BenchLog[] {
    const logs: BenchLog[] = new Array(size);
    for (let i = 0; i < size; i++) {
      this.cursor = (this.cursor + 1) % POOL;
      logs[i] = {
        id: randomUUID(), encryptedData: dataPool[this.cursor]!, nonce: noncePool[(this.cursor * 7) % POOL]!,
        haexTimestamp: this.timestamp(), deviceId: this.deviceId,
      };
    }
    return logs;
  }
}

// --- setup ---------------------------------------------------------------------------------------

export interface UserFactory {
  dbUrl: string;
  jwtSecret: string;
  apiUrl: string;
}

/** A user with a token valid for the whole run and a fresh vault of theirs (inserted as superuser). */
export async function newSession(sql: postgres.Sql, users: UserFactory, label: string): Promise<Session> {
  const user = await ensureUser(users.dbUrl, `bench-${label}-${randomUUID().slice(0, 8)}@bench.local`,
    { jwtSecret: users.jwtSecret, apiUrl: users.apiUrl, expiresInSeconds: 3600 });
  const vaultId = randomUUID();
  await sql`insert into public.vaults (id, owner_id) values (${vaultId}, ${user.id})`;
  const b64 = randomBytes(32).toString('base64');
  await sql`insert into public.vault_keys (vault_id, user_id, encrypted_vault_key, salt, nonce)
            values (${vaultId}, ${user.id}, ${b64}, ${b64}, ${randomBytes(12).toString('base64')})`;
  return { userId: user.id, token: user.access_token, vaultId };
}

/** The JWT claims PostgREST would set for this session's token (its session_id included: issue 19), as JSON text. */
export const claimsOf = (session: Session): string => {
  const claims = JSON.parse(Buffer.from(session.token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
  return JSON.stringify({ sub: claims.sub, role: claims.role, session_id: claims.session_id });
};

/** Fills a vault with `count` synthetic logs (base64-alphabet data of 256-byte size) in one statement. */
export async function fillVaultSql(sql: postgres.Sql, session: Session, count: number): Promise<void> {
  // wire (issue 25) as push_logs stores it, written here in the same statement (the trigger would too, one call per row).
  await sql`
    insert into public.sync_logs (vault_id, sequence, id, author_id, device_id, encrypted_data, nonce, haex_timestamp, created_at, wire)
    select r.vault_id, r.sequence, r.id, r.author_id, r.device_id, r.encrypted_data, r.nonce, r.haex_timestamp, r.created_at,
           private.log_wire(r.vault_id, r.sequence, r.id, r.author_id, r.device_id, r.encrypted_data, r.nonce, r.haex_timestamp,
                            r.created_at, null, 1)
    from (select ${session.vaultId}::uuid as vault_id, g as sequence, gen_random_uuid() as id, ${session.userId}::uuid as author_id,
                 'bench-fill' as device_id, left(repeat(md5(g::text), 11), 342) || '==' as encrypted_data,
                 left(md5(g::text || 'n'), 14) || '==' as nonce,
                 to_char(timestamptz '2026-11-27 10:00' + g * interval '1 ms', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
                   || '-0001-bench-fill' as haex_timestamp, now() as created_at
          from generate_series(1, ${count}::bigint) g) r`;
  await sql`update public.vaults set last_sequence = ${count} where id = ${session.vaultId}`;
  // Vacuumed and checkpointed before anything reads it: otherwise the first reads set the new rows'
  // hint bits (dirtying every page) and autovacuum's insert threshold starts a vacuum of the fresh
  // rows in the middle of the measurement, and whichever target reads first pays for both.
  await sql`vacuum (analyze) public.sync_logs`;
  await sql`checkpoint`;
}

/** Empties sync_logs between push measurements so that every target starts from the same table size. */
export async function resetLogs(sql: postgres.Sql, sessions: Session[]): Promise<void> {
  await sql`delete from public.sync_logs where vault_id = any(${sessions.map((s) => s.vaultId)}::uuid[])`;
  await sql`update public.vaults set last_sequence = 0, bytes = 0 where id = any(${sessions.map((s) => s.vaultId)}::uuid[])`;
  await sql`vacuum analyze public.sync_logs`;
  await sql`checkpoint`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// --- W1 push -----------------------------------------------------------------------------------

export interface PushResult {
  logsPerSecond: number;
  /** logs/s of each session's loop, in the order of `sessions`. */
  perSession: number[];
  requests: number;
  p50: number;
  p99: number;
  generatorCpu: number;
  errors: number;
  firstError?: string;
}

export async function runPush(target: Target, sessions: Session[], options: { batch: number; warmupSeconds: number; seconds: number }):
  Promise<PushResult> {
  const gens = sessions.map(() => new LogGenerator());
  let phase: 'warmup' | 'measure' | 'done' = 'warmup';
  const latencies: number[] = [];
  let logs = 0;
  const logsBySession = sessions.map(() => 0);
  let errors = 0;
  let firstError: string | undefined;
  const loop = async (index: number) => {
    const session = sessions[index]!;
    while (phase !== 'done') {
      const batch = gens[index]!.batch(options.batch);
      const started = performance.now();
      const inPhase = phase;
      try {
        await target.push(session, batch);
      } catch (error) {
        errors++;
        firstError ??= (error as Error).message;
        if (errors > 20) throw error;
        continue;
      }
      if (inPhase === 'measure' && phase === 'measure') {
        latencies.push(performance.now() - started);
        logs += batch.length;
        logsBySession[index]! += batch.length;
      }
    }
  };
  const loops = sessions.map((_, i) => loop(i));
  const failed = Promise.race(loops.map((l) => l.then(() => new Promise<void>(() => {}))));
  failed.catch(() => {});
  let cpu = cpuMeter();
  let started = performance.now();
  try {
    await Promise.race([sleep(options.warmupSeconds * 1000), failed]);
    phase = 'measure';
    cpu = cpuMeter();
    started = performance.now();
    await Promise.race([sleep(options.seconds * 1000), failed]);
  } finally {
    phase = 'done';
  }
  const elapsed = (performance.now() - started) / 1000;
  const generatorCpu = cpu();
  await Promise.allSettled(loops);
  return {
    logsPerSecond: logs / elapsed, perSession: logsBySession.map((n) => n / elapsed), requests: latencies.length,
    p50: percentile(latencies, 50), p99: percentile(latencies, 99), generatorCpu, errors, firstError,
  };
}

// --- W2 pull -----------------------------------------------------------------------------------

export interface PullResult {
  logsPerSecond: number;
  runs: number[];
  pages: number;
  generatorCpu: number;
}

export async function runPull(target: Target, session: Session, options: { expected: number; page: number; runs: number }):
  Promise<PullResult> {
  const runs: number[] = [];
  let pages = 0;
  const cpu = cpuMeter();
  for (let run = 0; run < options.runs; run++) {
    let after = 0;
    let total = 0;
    pages = 0;
    const started = performance.now();
    for (;;) {
      const page = await target.pull(session, after, options.page);
      total += page.count;
      pages++;
      after = page.lastSequence;
      if (!page.hasMore || page.count < options.page) break;
    }
    const seconds = (performance.now() - started) / 1000;
    if (total !== options.expected) throw new Error(`${target.name} pulled ${total} logs, expected ${options.expected}`);
    runs.push(total / seconds);
  }
  return { logsPerSecond: median(runs), runs, pages, generatorCpu: cpu() };
}

// --- W3 latency --------------------------------------------------------------------------------

export interface LatencyResult {
  p50: number;
  p99: number;
  mean: number;
  count: number;
}

export async function runLatency(target: Target, session: Session, options: { count: number; warmup: number }):
  Promise<LatencyResult> {
  const gen = new LogGenerator();
  for (let i = 0; i < options.warmup; i++) await target.push(session, gen.batch(1));
  const latencies: number[] = [];
  for (let i = 0; i < options.count; i++) {
    const batch = gen.batch(1);
    const started = performance.now();
    await target.push(session, batch);
    latencies.push(performance.now() - started);
  }
  return {
    p50: percentile(latencies, 50), p99: percentile(latencies, 99),
    mean: latencies.reduce((a, b) => a + b, 0) / latencies.length, count: latencies.length,
  };
}
