/**
 * Compaction through the Edge Function `sync` (POST /compact, recordKey in POST /push, counters in
 * GET /vaults) and through the client library on both transports (record keys derived on the
 * device, auto-compaction when a push says it is due). Real stack, through the gateway.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createClient } from '@supabase/supabase-js';
import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { edgeFunctionTransport, HaexSyncClient, rpcTransport, type SyncTransport } from '../client/src/index.ts';
import type { StackUser } from '../stack/users.ts';
import { adminSql, api, newUser, stack } from './support/stack.ts';

const F = '/functions/v1/sync';
const b64 = (n: number) => randomBytes(n).toString('base64');
const log = (haexTimestamp: string, recordKey?: string | null) =>
  ({ id: randomUUID(), encryptedData: b64(48), nonce: b64(12), haexTimestamp, ...(recordKey === undefined ? {} : { recordKey }) });

async function createVault(user: StackUser) {
  const vaultId = randomUUID();
  const res = await api(`${F}/vault-key`, { token: user.access_token, body: { vaultId, encryptedVaultKey: b64(48), salt: b64(32), nonce: b64(12) } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return vaultId;
}
const stored = async (vaultId: string) => (await adminSql()`select sequence::int, record_key from public.sync_logs
  where vault_id = ${vaultId} order by sequence`).map((r) => [r.sequence, r.record_key]);

let alice: StackUser;
let bob: StackUser;
beforeAll(async () => {
  [alice, bob] = await Promise.all([newUser('alice'), newUser('bob')]);
});

describe('HTTP API', () => {
  it('POST /push stores recordKey; POST /compact removes superseded logs; GET /vaults reports live logCount and compactedLogs', async () => {
    const vaultId = await createVault(alice);
    const push = await api(`${F}/push`, { token: alice.access_token, body: { vaultId, logs: [
      log('1', 'k-A'), log('2', 'k-A'), log('1', 'k_B'), log('9', null), log('3', 'k-A'), log('0', 'k_B'),
    ] } });
    expect(push.status, JSON.stringify(push.body)).toBe(200);
    expect(push.body).not.toHaveProperty('compactionDue');
    expect(await stored(vaultId)).toEqual([[1, 'k-A'], [2, 'k-A'], [3, 'k_B'], [4, null], [5, 'k-A'], [6, 'k_B']]);

    const compacted = await api(`${F}/compact`, { token: alice.access_token, body: { vaultId } });
    expect(compacted.status, JSON.stringify(compacted.body)).toBe(200);
    expect(compacted.body).toEqual({ status: 'complete', removed: 3, remaining: 3, complete: true, compactedThrough: 6 });
    const again = await api(`${F}/compact`, { token: alice.access_token, body: { vaultId } });
    expect(again.body).toEqual({ status: 'nothing_to_do', removed: 0, remaining: 3, complete: true, compactedThrough: 6 });
    expect(await stored(vaultId)).toEqual([[3, 'k_B'], [4, null], [5, 'k-A']]);

    const list = await api(`${F}/vaults`, { token: alice.access_token });
    expect(list.body.vaults).toEqual([expect.objectContaining({
      vaultId, lastSequence: 6, logCount: 3, compactedLogs: 3, compactedThrough: 6,
    })]);
  });

  it('POST /push answers compactionDue: true once enough keyed logs arrived', async () => {
    const vaultId = await createVault(alice);
    const logs = Array.from({ length: 1000 }, (_, i) => log(String(i).padStart(4, '0'), `k${i % 7}`));
    const push = await api(`${F}/push`, { token: alice.access_token, body: { vaultId, logs } });
    expect(push.status).toBe(200);
    expect(push.body.compactionDue).toBe(true);
  });

  it('400 naming logs[i].recordKey for a record key that is not 1..64 base64url characters, storing nothing', async () => {
    const vaultId = await createVault(alice);
    for (const bad of ['', 'a'.repeat(65), 'ab==', 'a+b', 'a/b', 'ü', 5]) {
      const res = await api(`${F}/push`, { token: alice.access_token, body: { vaultId, logs: [log('1', 'ok'), log('2', bad as string)] } });
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(res.body.error.code).toBe('bad_request');
      expect(res.body.error.details?.[0]?.field ?? res.body.error.details).toBe('logs[1].recordKey');
    }
    expect(await stored(vaultId)).toEqual([]);
  });

  it('POST /compact: 404 for another user\'s or an unknown vault (removing nothing), 400 naming vaultId, 401 without a user', async () => {
    const vaultId = await createVault(alice);
    await api(`${F}/push`, { token: alice.access_token, body: { vaultId, logs: [log('1', 'k'), log('2', 'k')] } });
    for (const [token, id] of [[bob.access_token, vaultId], [alice.access_token, randomUUID()]] as const) {
      const res = await api(`${F}/compact`, { token, body: { vaultId: id } });
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    }
    const bad = await api(`${F}/compact`, { token: alice.access_token, body: { vaultId: 'nope' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].field).toBe('vaultId');
    const extra = await api(`${F}/compact`, { token: alice.access_token, body: { vaultId, force: true } });
    expect(extra.status).toBe(400);
    expect((await api(`${F}/compact`, { token: stack.ANON_KEY, body: { vaultId } })).status).toBe(401);
    expect(await stored(vaultId)).toHaveLength(2);
  });
});

describe('client library', () => {
  const transports: Array<[string, (user: StackUser) => SyncTransport]> = [
    ['rpc', (user) => rpcTransport(createClient(stack.API_URL, stack.ANON_KEY, {
      global: { headers: { Authorization: `Bearer ${user.access_token}` } }, auth: { persistSession: false, autoRefreshToken: false },
      realtime: { transport: WebSocket as never },
    }))],
    ['edge function', (user) => edgeFunctionTransport({ url: `${stack.API_URL}${F}`, accessToken: () => user.access_token, apikey: stack.ANON_KEY })],
  ];

  it.each(transports)('%s: changes with a key carry an opaque record key; compact() keeps the newest per key; counters follow', async (_, make) => {
    const user = await newUser('lib');
    const client = HaexSyncClient.create({ transport: make(user), autoCompact: false });
    const vault = await client.createVault('pw');
    await vault.push([
      { data: { title: 'a' }, haexTimestamp: '1', key: JSON.stringify(['notes', 1, 'title']) },
      { data: { title: 'b' }, haexTimestamp: '2', key: JSON.stringify(['notes', 1, 'title']) },
      { data: { body: 'x' }, haexTimestamp: '1', key: JSON.stringify(['notes', 1, 'body']) },
      { data: { audit: 1 }, haexTimestamp: '0' },
    ]);
    const keys = (await stored(vault.vaultId)).map(([, k]) => k as string | null);
    expect(keys[0]).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(keys[0]).toBe(keys[1]);
    expect(keys[2]).not.toBe(keys[0]);
    expect(keys[3]).toBeNull();
    expect(JSON.stringify(keys)).not.toContain('notes');

    expect(await vault.compact()).toEqual({ status: 'complete', removed: 1, remaining: 3, complete: true, compactedThrough: 4 });
    const [summary] = await client.listVaults();
    expect(summary).toMatchObject({ vaultId: vault.vaultId, lastSequence: 4, logCount: 3, compactedLogs: 1, compactedThrough: 4 });
  });

  it.each(transports)('%s: a push told compaction is due returns once stored; compaction follows in the background', async (_, make) => {
    const user = await newUser('auto');
    const real = make(user);
    // Holds every compact_logs call until released: a push that awaited compaction could not return.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const steps: string[] = [];
    const transport: SyncTransport = { ...real, name: real.name, compact: async (id) => { await gate; const r = await real.compact(id); steps.push(r.status); return r; } };
    const client = HaexSyncClient.create({ transport });
    const vault = await client.createVault('pw');
    const result = await vault.push(Array.from({ length: 1200 }, (_, i) =>
      ({ data: i, haexTimestamp: String(i).padStart(5, '0'), key: `cell-${i % 10}` })));
    expect(result.compactionDue).toBe(true);
    expect(vault.compaction.running).toBe(true);
    expect((await client.listVaults())[0]).toMatchObject({ lastSequence: 1200, logCount: 1200, compactedLogs: 0 });
    release();
    expect(await vault.compaction.idle()).toBe('complete');
    expect(steps).toEqual(['complete']);
    const [summary] = await client.listVaults();
    expect(summary).toMatchObject({ lastSequence: 1200, logCount: 10, compactedLogs: 1190 });
  });
});
