/**
 * W6 compaction: a vault of BENCH_W6_CHANGES changes (default 100,000; the issue's full size is
 * 1,000,000) over BENCH_W6_KEYS record keys (default changes / 100: 1,000, resp. 10,000). A new
 * device's time from unlock to a complete state, uncompacted against compacted.
 *
 * "New device": the client library (HaexSyncClient over its rpc transport, supabase-js through the
 * gateway) unlocks the vault with its password (PBKDF2, 600,000 iterations), pulls from sequence 0,
 * decrypts every log and applies it to a last-writer-wins map (record key -> newest by haexTimestamp
 * bytewise, then sequence). "Complete" is checked: the map equals the generator's newest value per key.
 *
 * Generation: rows go in with COPY. Every change is a real AES-256-GCM ciphertext with the v2 AAD
 * binding its record key (the uncompacted device decrypts all of them); record keys are computed
 * exactly as client/src/record-key.ts does (HKDF-SHA-256 -> HMAC-SHA-256, 16 bytes, base64url),
 * once per key. Keys are written in a shuffled order so that the newest log of a key can sit
 * anywhere in the log. Compaction is then run through the client's transport (compact_logs steps
 * of ~2 s each, each resuming where the last stopped, until complete) and timed, while another
 * device pushes one log at a time to the same vault without pause: the bench prints how long those
 * pushes wait during compaction (against the same pushes before it), and what the compacted ids
 * left behind cost in bytes.
 */
import { createCipheriv, createHmac, hkdfSync, randomBytes, randomUUID } from 'node:crypto';
import { createClient } from '@supabase/supabase-js';
import type postgres from 'postgres';
import WebSocket from 'ws';
import { logAad } from '../client/src/log-crypto.ts';
import { RECORD_KEY_BYTES, RECORD_KEY_INFO } from '../client/src/record-key.ts';
import { HaexSyncClient } from '../client/src/sync.ts';
import { wrapVaultKey } from '../client/src/vault-key.ts';
import type { ResultRow } from './stats.ts';
import type { StackEndpoints } from './targets.ts';
import { newSession, type UserFactory } from './workloads.ts';

/** The vault size the issue states W6's goals for (BENCH_W6_CHANGES=1000000). */
const GOAL_CHANGES = 1_000_000;

const PASSWORD = 'bench w6 password';
const DEVICE = 'bench-w6';
/** The device pushing during compaction; its logs (no record key) are not part of the checked state. */
const PUSHER = 'bench-w6-pusher';

interface Generated { newest: Map<string, { ts: string; value: number }>; seconds: number }

async function generate(sql: postgres.Sql, vaultId: string, userId: string, raw: Buffer, changes: number, keys: number): Promise<Generated> {
  const started = performance.now();
  const hmacKey = Buffer.from(hkdfSync('sha256', raw, Buffer.alloc(32), Buffer.from(RECORD_KEY_INFO), 32));
  const recordKeys = Array.from({ length: keys }, (_, k) =>
    createHmac('sha256', hmacKey).update(JSON.stringify(['haex_notes', `row-${k}`, 'body'])).digest()
      .subarray(0, RECORD_KEY_BYTES).toString('base64url'));
  const newest = new Map<string, { ts: string; value: number }>();
  const copy = await sql`copy public.sync_logs (vault_id, sequence, id, author_id, device_id, encrypted_data, nonce,
    haex_timestamp, record_key) from stdin`.writable();
  const base = Date.parse('2026-11-27T10:00:00.000Z');
  const CHUNK = 5000;
  for (let start = 1; start <= changes; start += CHUNK) {
    let lines = '';
    for (let seq = start; seq < Math.min(start + CHUNK, changes + 1); seq++) {
      // Every key is written, in a different shuffled order each round (a multiplicative permutation).
      const k = ((seq - 1) * 7919 + Math.floor((seq - 1) / keys)) % keys;
      const recordKey = recordKeys[k]!;
      const id = randomUUID();
      const ts = `${new Date(base + seq).toISOString()}-0000-${DEVICE}`;
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', raw, iv);
      cipher.setAAD(logAad(vaultId, id, ts, DEVICE, recordKey));
      const plaintext = Buffer.from(JSON.stringify({ table: 'haex_notes', row: `row-${k}`, column: 'body', value: seq }));
      const data = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
      lines += `${vaultId}\t${seq}\t${id}\t${userId}\t${DEVICE}\t${data.toString('base64')}\t${iv.toString('base64')}\t${ts}\t${recordKey}\n`;
      newest.set(recordKey, { ts, value: seq });
    }
    if (!copy.write(lines)) await new Promise((resolve) => copy.once('drain', resolve));
  }
  await new Promise<void>((resolve, reject) => copy.end((error?: Error | null) => (error ? reject(error) : resolve())));
  await sql`update public.vaults v set last_sequence = ${changes}, keyed_logs_since_compaction = ${changes},
    bytes = (select sum(octet_length(encrypted_data) + octet_length(nonce) + octet_length(haex_timestamp))
             from public.sync_logs l where l.vault_id = v.id)
    where v.id = ${vaultId}`;
  await sql`vacuum analyze public.sync_logs`;
  return { newest, seconds: (performance.now() - started) / 1000 };
}

interface DeviceRun { unlockSeconds: number; pullSeconds: number; totalSeconds: number; logs: number }

/** A new device: unlock, pull everything, apply last-writer-wins; checks the state is complete. */
async function newDevice(endpoints: StackEndpoints, token: string, vaultId: string, expected: Generated['newest']): Promise<DeviceRun> {
  const supabase = createClient(endpoints.apiUrl, endpoints.anonKey, {
    global: { headers: { Authorization: `Bearer ${token}` } },
    auth: { persistSession: false, autoRefreshToken: false }, realtime: { transport: WebSocket as never },
  });
  const client = HaexSyncClient.create({ supabase, deviceId: 'w6-new-device' });
  const started = performance.now();
  const vault = await client.unlockVault(vaultId, PASSWORD);
  const unlocked = performance.now();
  const state = new Map<string, { ts: string; sequence: number; value: unknown }>();
  let logs = 0;
  for await (const page of vault.pull(0)) {
    for (const log of page.logs) {
      // The pusher's logs carry no record key (their device_id is the server-set session device, not PUSHER).
      if (log.recordKey == null) continue;
      const key = log.recordKey;
      const current = state.get(key);
      if (!current || log.haexTimestamp > current.ts || (log.haexTimestamp === current.ts && log.sequence > current.sequence)) {
        state.set(key, { ts: log.haexTimestamp, sequence: log.sequence, value: (log.data as { value: unknown }).value });
      }
    }
    logs += page.logs.length;
  }
  const done = performance.now();
  if (state.size !== expected.size) throw new Error(`W6: device has ${state.size} keys, expected ${expected.size}`);
  for (const [key, want] of expected) {
    if (state.get(key)?.value !== want.value) throw new Error(`W6: key ${key} has ${state.get(key)?.value}, expected ${want.value}`);
  }
  return { unlockSeconds: (unlocked - started) / 1000, pullSeconds: (done - unlocked) / 1000, totalSeconds: (done - started) / 1000, logs };
}

export async function runCompaction(options: { sql: postgres.Sql; users: UserFactory; endpoints: StackEndpoints; changes: number;
  keys: number; progress: (line: string) => void }): Promise<{ rows: ResultRow[]; details: Record<string, unknown> }> {
  const { sql, users, endpoints, changes, keys, progress } = options;
  const session = await newSession(sql, users, 'w6');
  const raw = randomBytes(32);
  const wrapped = await wrapVaultKey(session.vaultId, new Uint8Array(raw), PASSWORD);
  await sql`update public.vault_keys set encrypted_vault_key = ${wrapped.encryptedVaultKey}, salt = ${wrapped.salt},
    nonce = ${wrapped.nonce} where vault_id = ${session.vaultId}`;
  progress(`W6: generating ${changes} changes over ${keys} record keys (COPY, real ciphertexts)`);
  const generated = await generate(sql, session.vaultId, session.userId, raw, changes, keys);
  progress(`  generated in ${generated.seconds.toFixed(1)} s`);

  progress(`W6: new device on the uncompacted vault (${changes} logs)`);
  const before = await newDevice(endpoints, session.token, session.vaultId, generated.newest);
  progress(`  unlock ${before.unlockSeconds.toFixed(2)} s + pull/apply ${before.pullSeconds.toFixed(2)} s = ${before.totalSeconds.toFixed(2)} s`);

  progress('W6: compacting through the client (compact_logs steps until complete) while another device pushes');
  const device = (deviceId?: string) => HaexSyncClient.create({ deviceId, autoCompact: false, supabase: createClient(endpoints.apiUrl, endpoints.anonKey, {
    global: { headers: { Authorization: `Bearer ${session.token}` } },
    auth: { persistSession: false, autoRefreshToken: false }, realtime: { transport: WebSocket as never },
  }) });
  const compactor = device();
  const pusher = await device(PUSHER).unlockVault(session.vaultId, PASSWORD);
  let pushes = 0;
  const pushOnce = async () => {
    const started = performance.now();
    await pusher.push([{ data: { pushed: pushes }, haexTimestamp: `zz-${String(pushes++).padStart(8, '0')}` }]);
    return performance.now() - started;
  };
  const idle: number[] = [];
  for (let i = 0; i < 30; i++) idle.push(await pushOnce());
  const waits: number[] = [];
  let compacting = true;
  const pushing = (async () => { while (compacting) waits.push(await pushOnce()); })();
  const compactStart = performance.now();
  let steps = 0;
  let longestStep = 0;
  let compacted = { status: 'more', removed: 0, remaining: 0 } as { status: string; removed: number; remaining: number };
  try {
    for (; steps < 10_000 && compacted.status === 'more'; steps++) {
      const stepStart = performance.now();
      const step = await compactor.transport.compact(session.vaultId);
      longestStep = Math.max(longestStep, performance.now() - stepStart);
      compacted = { status: step.status, removed: compacted.removed + step.removed, remaining: step.remaining };
    }
  } finally {
    compacting = false;
    await pushing;
  }
  const compactSeconds = (performance.now() - compactStart) / 1000;
  const pct = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))] ?? 0;
  progress(`  ${compacted.status}: removed ${compacted.removed}, ${compacted.remaining} left, in ${compactSeconds.toFixed(1)} s, `
    + `${steps} steps (longest ${(longestStep / 1000).toFixed(2)} s)`);
  progress(`  push wait during compaction: ${waits.length} pushes, p50 ${pct(waits, 0.5).toFixed(0)} ms, p99 ${pct(waits, 0.99).toFixed(0)} ms, `
    + `max ${Math.max(0, ...waits).toFixed(0)} ms (before it: p50 ${pct(idle, 0.5).toFixed(0)} ms, max ${Math.max(...idle).toFixed(0)} ms)`);
  const [ids] = await sql`select count(*)::float8 as n, pg_total_relation_size('private.compacted_log_ids')::float8 as bytes
    from private.compacted_log_ids`;
  const bytesPerId = ids!.n > 0 ? ids!.bytes / ids!.n : 0;
  progress(`  compacted ids kept: ${ids!.n} (all vaults), ${bytesPerId.toFixed(0)} bytes each (table + index)`);
  await sql`vacuum analyze public.sync_logs`;

  progress(`W6: new device on the compacted vault (${compacted.remaining} logs)`);
  const after = await newDevice(endpoints, session.token, session.vaultId, generated.newest);
  progress(`  unlock ${after.unlockSeconds.toFixed(2)} s + pull/apply ${after.pullSeconds.toFixed(2)} s = ${after.totalSeconds.toFixed(2)} s`);

  const speedup = before.totalSeconds / after.totalSeconds;
  const r = (v: number, d = 2) => Math.round(v * 10 ** d) / 10 ** d;
  // The goals are stated for the issue's vault (1,000,000 changes over 10,000 keys); a smaller
  // vault is a quicker look, where the fixed unlock weighs more: no verdict then.
  // The speed-up goals assume ~100 changes per key (10,000 keys); a vault of mostly distinct keys
  // (e.g. 500,000 keys, issue 16's size for compaction itself) cannot shrink 50x: no verdict then,
  // except for the push wait, whose goal holds at any size of 1,000,000.
  const atGoalSize = changes >= GOAL_CHANGES;
  const atGoalShape = atGoalSize && keys * 100 <= changes;
  const judged = (met: boolean, shapeMatters = true): Pick<ResultRow, 'verdict' | 'note'> => ((shapeMatters ? atGoalShape : atGoalSize)
    ? { verdict: met ? 'PASS' : 'MISS' }
    : { verdict: 'n/a', note: `goals are for BENCH_W6_CHANGES=${GOAL_CHANGES}${shapeMatters ? ` over <= ${GOAL_CHANGES / 100} keys` : ''}` });
  const rows: ResultRow[] = [
    {
      workload: 'W6 compaction', target: 'client (rpc)', metric: 'speed-up', value: r(speedup, 1), unit: 'x faster (unlock to complete)',
      goal: '>= 50x', ...judged(speedup >= 50),
      details: { changes, keys, 'uncompacted s': r(before.totalSeconds), 'compacted s': r(after.totalSeconds),
        'pull-only speed-up': r(before.pullSeconds / after.pullSeconds, 1) },
    },
    {
      workload: 'W6 compaction', target: 'client (rpc)', metric: 'ready', value: Math.round(after.totalSeconds * 1000), unit: 'ms (compacted, unlock to complete)',
      goal: '<= 1000 ms', ...judged(after.totalSeconds <= 1),
      details: { 'unlock s': r(after.unlockSeconds), 'pull+apply s': r(after.pullSeconds), 'compaction s': r(compactSeconds, 1),
        removed: compacted.removed, remaining: compacted.remaining },
    },
    {
      workload: 'W6 compaction', target: 'client (rpc)', metric: 'push wait during compaction', value: Math.round(Math.max(0, ...waits)),
      unit: 'ms (longest push while compacting)', goal: '< 1000 ms', ...judged(Math.max(0, ...waits) < 1000, false),
      details: { pushes: waits.length, 'p50 ms': Math.round(pct(waits, 0.5)), 'p99 ms': Math.round(pct(waits, 0.99)),
        'p50 before ms': Math.round(pct(idle, 0.5)), steps, 'longest step s': r(longestStep / 1000), 'bytes per compacted id': Math.round(bytesPerId) },
    },
  ];
  return { rows, details: { generationSeconds: r(generated.seconds, 1), before, after, compactSeconds: r(compactSeconds, 2), compacted,
    steps, pushWaitsMs: { p50: pct(waits, 0.5), p99: pct(waits, 0.99), max: Math.max(0, ...waits), count: waits.length },
    bytesPerCompactedId: bytesPerId } };
}
