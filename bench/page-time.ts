/**
 * One pull page, taken apart (issue 25, items 1 and 5):
 *
 *   W9 deep cursor: the time of a 1,000-log page through PostgREST (pull_page) at cursor 900,000 of a
 *   1,000,000-log vault against the same pages of a 10,000-log vault, alternating, median: the page
 *   must cost the same however deep the cursor and however big the vault (goal: within 10 %).
 *   BENCH_W9_LOGS sets the big vault (default 1,000,000: filled by one SQL statement, ~1 min on an
 *   idle machine; the smoke run sets it lower). The cursor is at 90 % of it.
 *
 *   Profile: where one page's time goes, measured on the small vault: SQL (EXPLAIN ANALYZE of the
 *   pull_page call as the user: execution time inside PostgreSQL), PostgREST (request sent to first
 *   response byte, minus SQL: JWT, transaction, settings, the pre-request hook, the wire), transfer
 *   (first to last byte), client parse (JSON.parse of the body) and decrypt (the client library's
 *   logDecryptor over a page of 1,000 real AES-256-GCM logs of the same size, node:crypto).
 *   Medians over the rounds; the stages are sequential, so their sum is the page's time. The SQL row
 *   also says what of it is the session and membership check, which pull_page makes once per call.
 */
import { createCipheriv, randomBytes, randomUUID, webcrypto } from 'node:crypto';
import http from 'node:http';
import type postgres from 'postgres';
import { logDecryptor, type StoredLog } from '../client/src/log-crypto.ts';
import { DEEP_CURSOR_MAX_EXCESS } from './goals.ts';
import { median, type ResultRow } from './stats.ts';
import type { Session, StackEndpoints } from './targets.ts';
import { aadFor } from './w4-crypto.ts';
import { claimsOf, fillVaultSql, newSession, type UserFactory } from './workloads.ts';

const PAGE = 1000;
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

interface Timed { ttfbMs: number; transferMs: number; parseMs: number; logs: number }

/** One pull_page request with its stages timed. */
function timedPull(postgrestPort: number, session: Session, after: number): Promise<Timed> {
  const body = JSON.stringify({ vault_id: session.vaultId, after_sequence: after, max_count: PAGE });
  return new Promise((resolve, reject) => {
    const sent = performance.now();
    const req = http.request({
      host: '127.0.0.1', port: postgrestPort, path: '/rpc/pull_page', method: 'POST', agent,
      headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${session.token}`,
        'content-length': Buffer.byteLength(body) },
    }, (res) => {
      const firstByte = performance.now();
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const ended = performance.now();
        const text = Buffer.concat(chunks).toString('utf8');
        if ((res.statusCode ?? 500) >= 400) return reject(new Error(`pull_page ${res.statusCode}: ${text.slice(0, 200)}`));
        const parseStart = performance.now();
        const page = JSON.parse(text) as { logs: unknown[] };
        resolve({ ttfbMs: firstByte - sent, transferMs: ended - firstByte, parseMs: performance.now() - parseStart, logs: page.logs.length });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Execution time of the pull_page call inside PostgreSQL, as the user (EXPLAIN ANALYZE). */
async function sqlMs(sql: postgres.Sql, session: Session, after: number): Promise<number> {
  return sql.begin(async (tx) => {
    await tx`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${claimsOf(session)}, true)`;
    const [row] = await tx.unsafe(`explain (analyze, format json) select public.pull_page($1, $2, ${PAGE})`, [session.vaultId, after]);
    return (row!['QUERY PLAN'] as Array<{ 'Execution Time': number }>)[0]!['Execution Time'];
  }) as Promise<number>;
}

/**
 * Execution time inside PostgreSQL of what pull_page checks once per call (issue 25, item 2): the
 * session (private.caller_id) and the membership with the vault's state, as the user. A fixed cost:
 * it does not depend on the page.
 */
async function accessMs(sql: postgres.Sql, session: Session): Promise<number> {
  return sql.begin(async (tx) => {
    await tx`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${claimsOf(session)}, true)`;
    const [row] = await tx.unsafe(`explain (analyze, format json)
      select v.last_sequence, v.compacted_through from public.vaults v, (select private.caller_id() as uid) c
      where v.id = $1 and exists (select from public.vault_members m where m.vault_id = v.id and m.user_id = c.uid)`, [session.vaultId]);
    return (row!['QUERY PLAN'] as Array<{ 'Execution Time': number }>)[0]!['Execution Time'];
  }) as Promise<number>;
}

/** µs to decrypt one page of `count` real logs with the client library (node:crypto where present): best of 5. */
async function decryptMs(count: number): Promise<number> {
  const raw = randomBytes(32);
  const key = await webcrypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['decrypt']) as CryptoKey;
  const vaultId = randomUUID();
  const logs: StoredLog[] = Array.from({ length: count }, (_, i) => {
    const id = randomUUID();
    const ts = `2026-11-27T10:00:00.000Z-${String(i).padStart(4, '0')}-bench`;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', raw, iv);
    cipher.setAAD(aadFor(vaultId, id, ts, 'bench'));
    const data = Buffer.concat([cipher.update(JSON.stringify({ value: randomBytes(160).toString('base64') })), cipher.final(), cipher.getAuthTag()]);
    return { id, sequence: i + 1, encryptedData: data.toString('base64'), nonce: iv.toString('base64'), haexTimestamp: ts,
      deviceId: 'bench', createdAt: new Date().toISOString() };
  });
  const decryptor = logDecryptor(key, vaultId);
  let best = Infinity;
  for (let i = 0; i < 6; i++) {
    const t = performance.now();
    await Promise.all(decryptor.page(logs));
    if (i > 0) best = Math.min(best, performance.now() - t);
  }
  return best;
}

const r = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

export async function runPageTime(options: { sql: postgres.Sql; users: UserFactory; endpoints: StackEndpoints; bigLogs: number;
  rounds: number; progress: (line: string) => void }): Promise<{ rows: ResultRow[]; profile: Record<string, number> }> {
  const { sql, users, endpoints, bigLogs, rounds, progress } = options;
  const smallLogs = 10_000;
  const small = await newSession(sql, users, 'w9-small');
  const big = await newSession(sql, users, 'w9-big');
  progress(`W9: filling a vault of ${smallLogs} and one of ${bigLogs} logs`);
  const fillStart = performance.now();
  await fillVaultSql(sql, small, smallLogs);
  await fillVaultSql(sql, big, bigLogs);
  progress(`  filled in ${r((performance.now() - fillStart) / 1000, 1)} s`);
  // 90 % into the big vault, leaving room for the 9 full pages measured after it (a smoke run's vault is small).
  const deepCursor = Math.max(0, Math.min(Math.floor(bigLogs * 0.9), bigLogs - 10 * PAGE));
  const port = endpoints.postgrestPort;
  // Warm both (plans, caches), then alternate: page k of the small vault, page k after the deep cursor.
  for (let i = 0; i < 3; i++) {
    await timedPull(port, small, i * PAGE);
    await timedPull(port, big, deepCursor + i * PAGE);
  }
  const shallow: number[] = [];
  const deep: number[] = [];
  const stages = { sql: [] as number[], access: [] as number[], postgrest: [] as number[], transfer: [] as number[], parse: [] as number[] };
  for (let round = 0; round < rounds; round++) {
    const k = round % 9; // pages 0..8 of the small vault (all full), the same offsets after the deep cursor
    const a = await timedPull(port, small, k * PAGE);
    const b = await timedPull(port, big, deepCursor + k * PAGE);
    if (a.logs !== PAGE || b.logs !== PAGE) throw new Error(`W9: pages of ${a.logs} and ${b.logs} logs, expected ${PAGE}`);
    shallow.push(a.ttfbMs + a.transferMs + a.parseMs);
    deep.push(b.ttfbMs + b.transferMs + b.parseMs);
    const inDb = await sqlMs(sql, small, k * PAGE);
    stages.sql.push(inDb);
    stages.access.push(await accessMs(sql, small));
    stages.postgrest.push(Math.max(0, a.ttfbMs - inDb));
    stages.transfer.push(a.transferMs);
    stages.parse.push(a.parseMs);
  }
  const decrypt = await decryptMs(PAGE);
  const shallowMs = median(shallow);
  const deepMs = median(deep);
  const excess = deepMs / shallowMs - 1;
  progress(`  page at cursor ${deepCursor} of ${bigLogs}: ${r(deepMs)} ms; of ${smallLogs}: ${r(shallowMs)} ms (${r(excess * 100, 1)} %)`);
  const profile = {
    'SQL ms': r(median(stages.sql)), 'PostgREST ms': r(median(stages.postgrest)), 'transfer ms': r(median(stages.transfer)),
    'client parse ms': r(median(stages.parse)), 'decrypt ms': r(decrypt),
  };
  // Part of the SQL stage, not added to the sum: the access checks pull_page makes once per call.
  const access = r(median(stages.access), 3);
  progress(`  one page of ${PAGE}: ${Object.entries(profile).map(([k, v]) => `${k} ${v}`).join(', ')} (of SQL: access checks ${access} ms)`);
  const total = Object.values(profile).reduce((a, b) => a + b, 0);
  const rows: ResultRow[] = [
    {
      workload: 'W9 deep cursor', target: `postgrest-direct, cursor ${deepCursor} of ${bigLogs}`, metric: 'page ms', value: r(deepMs),
      unit: 'ms', ratio: deepMs / shallowMs, goal: `<= ${1 + DEEP_CURSOR_MAX_EXCESS}x the 10k vault's page`,
      verdict: excess <= DEEP_CURSOR_MAX_EXCESS ? 'PASS' : 'MISS',
      details: { '10k vault page ms': r(shallowMs), rounds, 'excess %': r(excess * 100, 1) },
    },
    ...Object.entries(profile).map(([stage, ms]): ResultRow => ({
      workload: 'Page profile', target: stage.replace(' ms', ''), metric: 'ms per page', value: ms, unit: 'ms',
      details: { 'share %': r((ms / total) * 100, 0), logs: PAGE, ...(stage === 'SQL ms' ? { 'of it: session + membership check ms': access } : {}) },
    })),
  ];
  return { rows, profile: { ...profile, 'access check ms (part of SQL)': access } };
}
