/**
 * The pokes the database sends (supabase/migrations/20261129100000_create_vault_poke_trigger.sql):
 * exactly one per push that stores logs, in the push's transaction, carrying only
 * {vaultId, lastSequence} (plus realtime.send's message id), delivered in commit order; nothing from a
 * rolled-back push, and a failing send never fails the push.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SupabaseClient } from '@supabase/supabase-js';
import type { StackUser } from '../stack/users.ts';
import { createVault, entry } from './support/sql-fixtures.ts';
import { eventually, joinVault, realtimeClient, sleep, type Joined } from './support/realtime.ts';
import { adminSql, asUser, newUser, rpc } from './support/stack.ts';

let alice: StackUser;
let vaultId: string;
let device: Joined;
let client: SupabaseClient;

beforeEach(async () => {
  alice = await newUser('alice');
  ({ vault_id: vaultId } = await createVault(alice));
  client = realtimeClient(alice.access_token);
  device = await joinVault(client, vaultId);
  expect(device.status).toBe('SUBSCRIBED');
});
afterEach(async () => { await client.removeAllChannels(); });

const push = async (logs: ReturnType<typeof entry>[]) => {
  const res = await rpc('push_logs', { vault_id: vaultId, logs }, alice.access_token);
  expect(res.status).toBe(200);
  return res.body as { last_sequence: number; results: { id: string }[] };
};

describe('pokes', () => {
  it('carry only vaultId, lastSequence and the message id: no ciphertext, nonce, timestamp or log id', async () => {
    const logs = [entry(), entry(), entry()];
    const pushed = await push(logs);
    await eventually(() => device.received.length === 1, 'the poke');
    const [poke] = device.received;
    expect(poke!.event).toBe('logs');
    expect(Object.keys(poke!.payload).sort()).toEqual(['id', 'lastSequence', 'vaultId']);
    expect(poke!.payload).toEqual({ vaultId, lastSequence: pushed.last_sequence, id: poke!.meta.id });
    const text = JSON.stringify(poke);
    for (const log of logs) {
      for (const secret of [log.id, log.encrypted_data, log.nonce, log.haex_timestamp]) expect(text).not.toContain(secret);
    }
  });

  it('one per push that stores logs, none for a push of duplicates only, in commit order under concurrent pushes', async () => {
    const first = [entry(), entry()];
    await push(first);
    await push(first); // duplicates only: nothing stored, no poke
    const concurrent = await Promise.all(Array.from({ length: 10 }, () => push([entry()])));
    const last = Math.max(...concurrent.map((p) => p.last_sequence));
    await eventually(() => device.received.length >= 11, '11 pokes');
    await sleep(200);
    const sequences = device.received.map((m) => m.payload.lastSequence);
    expect(sequences).toEqual([2, ...Array.from({ length: 10 }, (_, i) => i + 3)]);
    expect(sequences.at(-1)).toBe(last);
  });

  it('a rolled-back push sends nothing (the next committed one is the first poke)', async () => {
    await asUser(alice, async (sql) => {
      const [row] = await sql`select public.push_logs(${vaultId}, ${sql.json([entry(), entry()] as never)}) as r`;
      expect(row!.r.last_sequence).toBe(2);
    }); // rolled back by asUser
    await sleep(300);
    expect(device.received).toEqual([]);
    await push([entry()]);
    await eventually(() => device.received.length === 1, 'the committed poke');
    expect(device.received[0]!.payload.lastSequence).toBe(1);
  });

  it('a failing send never fails the push: the logs are stored, only the poke is missing', async () => {
    const sql = adminSql();
    const constraint = `test_refuse_${vaultId.replaceAll('-', '_')}`;
    await sql.unsafe(`alter table realtime.messages add constraint ${constraint} check (topic <> 'vault:${vaultId}')`);
    try {
      const pushed = await push([entry(), entry()]);
      expect(pushed.last_sequence).toBe(2);
    } finally {
      await sql.unsafe(`alter table realtime.messages drop constraint ${constraint}`);
    }
    const [{ count }] = await sql`select count(*)::int as count from public.sync_logs where vault_id = ${vaultId}` as unknown as [{ count: number }];
    expect(count).toBe(2);
    await push([entry()]);
    await eventually(() => device.received.length === 1, 'the next poke');
    expect(device.received.map((m) => m.payload.lastSequence)).toEqual([3]);
  });
});
