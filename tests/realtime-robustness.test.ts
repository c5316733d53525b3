/**
 * The embedded Realtime server under client input supabase-js would not send: joins racing on one
 * socket, frames it cannot decode, unknown events. Phoenix handles a socket's messages one at a
 * time, so a second join of a topic replaces the first, and bad frames never hurt other sockets.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { StackUser } from '../stack/users.ts';
import { createVault, entry } from './support/sql-fixtures.ts';
import { eventually, rawSocket, sleep } from './support/realtime.ts';
import { newUser, rpc, stack } from './support/stack.ts';

let alice: StackUser;
let vaultId: string;

beforeEach(async () => {
  alice = await newUser('alice');
  ({ vault_id: vaultId } = await createVault(alice));
});

const push = async () => {
  const res = await rpc('push_logs', { vault_id: vaultId, logs: [entry()] }, alice.access_token);
  expect(res.status).toBe(200);
};
const isBroadcast = (frame: unknown) => Buffer.isBuffer(frame) && frame[0] === 4;

describe('joins racing on one socket', () => {
  it('two joins of one topic sent back to back leave one channel: the first is closed, a poke arrives once', async () => {
    const raw = await rawSocket(`apikey=${stack.ANON_KEY}&vsn=2.0.0`);
    try {
      const topic = `realtime:vault:${vaultId}`;
      const join = { config: { private: true }, access_token: alice.access_token };
      raw.send(['1', '1', topic, 'phx_join', join]);
      raw.send(['2', '2', topic, 'phx_join', join]);
      await eventually(() => raw.frames.filter((f) => Array.isArray(f) && f[3] === 'phx_reply').length === 2, 'both join replies');
      await push();
      await eventually(() => raw.frames.some(isBroadcast), 'the poke');
      await sleep(300);
      expect(raw.frames.filter(isBroadcast)).toHaveLength(1);
      expect(raw.frames.filter((f) => !isBroadcast(f))).toEqual([
        ['1', '1', topic, 'phx_reply', { status: 'ok', response: { postgres_changes: [] } }],
        ['1', '1', topic, 'phx_close', {}],
        ['2', '2', topic, 'phx_reply', { status: 'ok', response: { postgres_changes: [] } }],
      ]);
    } finally {
      raw.ws.close();
    }
  });
});
