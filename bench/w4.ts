/**
 * W4 catch-up: a new device pulls a whole vault through the client library, decrypting every log,
 * and we measure time, logs/s and the client's peak memory at 1/4 and at full vault size.
 *
 * Generating the vault: every log is a real AES-256-GCM ciphertext under the vault key, bound by
 * its AAD to the vault id and its own log id (so each log is encrypted separately); the plaintexts
 * are a modest set of distinct CRDT-like changes. node:crypto's synchronous cipher produces the
 * same bytes as WebCrypto (ciphertext || 16-byte tag), ~10x faster than awaiting subtle.encrypt per
 * log. Rows go in with COPY (streamed, constant memory). The client runs in a child process
 * (bench/w4-client.ts) so its memory is its own: the client library (client/src pullPages) over its
 * rpc transport at 1/4 and full size, over its Edge Function transport, and a stand-in with
 * node:crypto decryption to show what decryption costs. BENCH_W4_CPU_PROF=<dir> writes a V8 CPU
 * profile of each client run there (node --cpu-prof).
 */
import { spawn } from 'node:child_process';
import { createCipheriv, randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type postgres from 'postgres';
import type { ResultRow } from './stats.ts';
import type { Session, StackEndpoints } from './targets.ts';
import { newSession, type UserFactory } from './workloads.ts';
import { aadFor } from './w4-crypto.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Distinct plaintexts: CRDT-like change records as the HaexHub client would sync them. */
function plaintexts(count: number): Buffer[] {
  return Array.from({ length: count }, (_, i) => Buffer.from(JSON.stringify({
    table: `haex_table_${i % 7}`, rowPks: { id: randomUUID() }, column: `column_${i % 13}`,
    value: randomBytes(96).toString('base64'), op: i % 5 === 0 ? 'delete' : 'upsert',
  })));
}

export async function insertEncryptedLogs(sql: postgres.Sql, session: Session, key: Buffer, count: number): Promise<{ encryptMs: number; totalMs: number }> {
  const started = performance.now();
  const payloads = plaintexts(256);
  let encryptMs = 0;
  const copy = await sql`copy public.sync_logs (vault_id, sequence, id, author_id, device_id, encrypted_data, nonce, haex_timestamp) from stdin`.writable();
  const CHUNK = 2000;
  const base = Date.parse('2026-11-27T10:00:00.000Z');
  for (let start = 1; start <= count; start += CHUNK) {
    const t = performance.now();
    const lines: string[] = [];
    for (let seq = start; seq < Math.min(start + CHUNK, count + 1); seq++) {
      const id = randomUUID();
      const ts = `${new Date(base + seq).toISOString()}-${String(seq % 10000).padStart(4, '0')}-bench-device`;
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(aadFor(session.vaultId, id, ts, 'bench-device'));
      const data = Buffer.concat([cipher.update(payloads[seq % payloads.length]!), cipher.final(), cipher.getAuthTag()]);
      lines.push(`${session.vaultId}\t${seq}\t${id}\t${session.userId}\tbench-device\t${data.toString('base64')}\t${iv.toString('base64')}\t${ts}\n`);
    }
    encryptMs += performance.now() - t;
    if (!copy.write(lines.join(''))) await new Promise((resolve) => copy.once('drain', resolve));
  }
  await new Promise<void>((resolve, reject) => copy.end((error?: Error | null) => (error ? reject(error) : resolve())));
  await sql`update public.vaults set last_sequence = ${count} where id = ${session.vaultId}`;
  await sql`analyze public.sync_logs`;
  return { encryptMs, totalMs: performance.now() - started };
}

export interface ClientRun {
  logs: number;
  seconds: number;
  logsPerSecond: number;
  peakRssMiB: number;
  peakHeapUsedMiB: number;
  /** Max heapUsed right after a forced GC (every 10 pages): what the client keeps. */
  retainedHeapMiB: number;
  maxRssMiB: number;
  client: string;
  /** The AES-GCM backend the library chose (aes-gcm.ts). */
  cipher: string;
  /** µs per log to decrypt the first page, per backend. */
  decryptMicros: Record<string, number>;
  /** CPU time (user + system) of the client process per log caught up: what the client itself costs (its decrypt worker included). */
  clientCpuMicrosPerLog: number;
  /** Time the main thread's event loop was busy per log (event-loop utilisation; includes waiting for a core under load). */
  mainThreadMicrosPerLog: number;
}

/** mode: the client library over its rpc transport (supabase-js) or its Edge Function transport, or the stand-in. */
export type ClientMode = 'library-rpc' | 'library-rpc-worker' | 'library-edge' | 'library-rpc-webcrypto' | 'stand-in-node';

function runClient(endpoints: StackEndpoints, session: Session, key: Buffer, expected: number, mode: ClientMode): Promise<ClientRun> {
  const input = JSON.stringify({ ...endpoints, token: session.token, vaultId: session.vaultId, key: key.toString('base64'), expected, mode });
  return new Promise((resolve, reject) => {
    const profile = process.env.BENCH_W4_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_W4_CPU_PROF}`] : [];
    const child = spawn(process.execPath, ['--expose-gc', ...profile, '--import', 'tsx', path.join(here, 'w4-client.ts')], {
      stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, BENCH_W4_INPUT: input },
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`w4 client exited with ${code}: ${out.slice(-300)}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').at(-1)!) as ClientRun);
      } catch (error) {
        reject(error);
      }
    });
    child.stdin.end();
  });
}

export async function runCatchUp(options: { sql: postgres.Sql; users: UserFactory; endpoints: StackEndpoints; logs: number; progress: (line: string) => void }):
  Promise<{ rows: ResultRow[]; generation: Record<string, number>; runs: ClientRun[] }> {
  const { sql, users, endpoints, logs, progress } = options;
  const quarter = Math.max(1000, Math.round(logs / 4));
  const key = randomBytes(32);
  const small = await newSession(sql, users, 'w4-quarter');
  const full = await newSession(sql, users, 'w4-full');
  progress(`W4: generating ${quarter} + ${logs} encrypted logs`);
  const genSmall = await insertEncryptedLogs(sql, small, key, quarter);
  const genFull = await insertEncryptedLogs(sql, full, key, logs);
  const generation = {
    logs: quarter + logs, seconds: (genSmall.totalMs + genFull.totalMs) / 1000,
    encryptSeconds: (genSmall.encryptMs + genFull.encryptMs) / 1000,
    logsPerSecond: (quarter + logs) / ((genSmall.totalMs + genFull.totalMs) / 1000),
  };
  progress(`  generated ${generation.logs} in ${generation.seconds.toFixed(1)} s (${Math.round(generation.logsPerSecond)} logs/s, encryption ${generation.encryptSeconds.toFixed(1)} s)`);
  const runs: ClientRun[] = [];
  const run = async (label: string, session: Session, count: number, mode: ClientMode) => {
    progress(`W4 catch-up of ${count} logs, ${label}`);
    const result = await runClient(endpoints, session, key, count, mode);
    progress(`  ${Math.round(result.logsPerSecond)} logs/s (${result.cipher}; decrypt µs/log ${JSON.stringify(result.decryptMicros)}, client CPU ${result.clientCpuMicrosPerLog} µs/log, main thread ${result.mainThreadMicrosPerLog} µs/log), heap retained ${result.retainedHeapMiB} MiB (peak ${result.peakHeapUsedMiB}), max RSS ${result.maxRssMiB} MiB`);
    runs.push(result);
    return result;
  };
  const runSmall = await run('client library (rpc transport), 1/4 size', small, quarter, 'library-rpc');
  const runFull = await run('client library (rpc transport), full size', full, logs, 'library-rpc');
  const runWorker = await run('client library (rpc transport), full size, decryption in the worker (HAEX_SYNC_DECRYPT_WORKER=1)', full, logs, 'library-rpc-worker');
  const runEdge = await run('client library (Edge Function transport)', full, logs, 'library-edge');
  const runWeb = await run('client library (rpc transport) with WebCrypto, the portable path', full, logs, 'library-rpc-webcrypto');
  // "Does not grow": at full size the heap retained after GC stays within 25% (or 8 MiB) of the
  // quarter-size run's, and max RSS within 25% (or 32 MiB). Peak heapUsed includes uncollected
  // garbage (GC timing), so it is reported but not judged.
  const flat = (a: number, b: number, slack: number) => b <= Math.max(a * 1.25, a + slack);
  const memoryFlat = flat(runSmall.retainedHeapMiB, runFull.retainedHeapMiB, 8) && flat(runSmall.maxRssMiB, runFull.maxRssMiB, 32);
  const speedRow = (r: ClientRun, extra: ResultRow['details'] = {}): ResultRow => ({
    workload: 'W4 catch-up', target: r.client, metric: 'logs/s', value: Math.round(r.logsPerSecond), unit: 'logs/s',
    goal: '>= 50000 logs/s', verdict: r.logsPerSecond >= 50_000 ? 'PASS' : 'MISS',
    details: {
      logs: r.logs, seconds: Math.round(r.seconds * 10) / 10, cipher: r.cipher, 'client cpu us/log': r.clientCpuMicrosPerLog,
      'main thread us/log': r.mainThreadMicrosPerLog,
      ...Object.fromEntries(Object.entries(r.decryptMicros).map(([name, us]) => [`decrypt us/log ${name}`, us])),
      'peak heap': r.peakHeapUsedMiB, maxRSS: r.maxRssMiB, ...extra,
    },
  });
  const rows: ResultRow[] = [
    speedRow(runFull, { '1/4 size logs/s': Math.round(runSmall.logsPerSecond) }),
    {
      workload: 'W4 memory', target: runFull.client, metric: 'retained heap MiB', value: runFull.retainedHeapMiB, unit: 'MiB retained',
      goal: 'flat (full <= 1.25x 1/4 size)', verdict: memoryFlat ? 'PASS' : 'MISS',
      details: {
        '1/4 retained': runSmall.retainedHeapMiB, 'full retained': runFull.retainedHeapMiB,
        '1/4 peak heap': runSmall.peakHeapUsedMiB, 'full peak heap': runFull.peakHeapUsedMiB,
        '1/4 maxRSS': runSmall.maxRssMiB, 'full maxRSS': runFull.maxRssMiB,
      },
    },
    { ...speedRow(runWorker), goal: undefined, verdict: undefined },
    speedRow(runEdge),
    { ...speedRow(runWeb), goal: undefined, verdict: undefined },
  ];
  return { rows, generation, runs };
}
