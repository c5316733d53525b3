/**
 * The embedded Realtime server under client input supabase-js would not send: joins racing on one
 * socket, frames it cannot decode, unknown events. Phoenix handles a socket's messages one at a
 * time, so a second join of a topic replaces the first, and bad frames never hurt other sockets.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import postgres from 'postgres';
import { beforeEach, describe, expect, it } from 'vitest';
import type { StackUser } from '../stack/users.ts';
import { createVault, entry } from './support/sql-fixtures.ts';
import { eventually, rawSocket, sleep } from './support/realtime.ts';
import { newUser, rpc, stack } from './support/stack.ts';
import { MAX_BROADCAST_PAYLOAD_BYTES, MAX_CHANNELS_PER_CLIENT } from '../stack/realtime/server.ts';

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

describe('frames', () => {
  it('a binary push (kind 0: join_ref, ref, topic, event sizes) is decoded as V2Serializer does: a binary heartbeat is answered with its ref', async () => {
    const raw = await rawSocket(`apikey=${stack.ANON_KEY}&vsn=2.0.0`);
    try {
      const [ref, topic, event] = ['5', 'phoenix', 'heartbeat'].map((s) => Buffer.from(s));
      raw.ws.send(Buffer.concat([Buffer.from([0, 0, ref!.length, topic!.length, event!.length]), ref!, topic!, event!, Buffer.from([1, 2, 3])]));
      await eventually(() => raw.frames.length === 1, 'the heartbeat reply');
      expect(raw.frames[0]).toEqual([null, '5', 'phoenix', 'phx_reply', { status: 'ok', response: {} }]);
    } finally {
      raw.ws.close();
    }
  });

  it('garbage (non-JSON text, short and unknown binary kinds, wrong shapes, unknown events) is dropped and the socket still answers', async () => {
    const raw = await rawSocket(`apikey=${stack.ANON_KEY}&vsn=2.0.0`);
    try {
      for (const junk of ['not json', '{"topic":1}', '[1,2]', 'null', '[null,null,"phoenix","heartbeat"]']) raw.ws.send(junk);
      for (const junk of [[], [3], [3, 255, 255, 255, 255, 255, 1], [0, 9], [9, 1, 2, 3], [4, 0, 0, 0, 1]]) raw.ws.send(Buffer.from(junk));
      raw.send(['1', '1', 'realtime:x', 'no_such_event', 'not an object']);
      raw.send(['1', '2', `realtime:vault:${vaultId}`, 'phx_join', 'not an object']);
      raw.send([null, '9', 'phoenix', 'heartbeat', {}]);
      await eventually(() => raw.frames.some((f) => Array.isArray(f) && f[1] === '9'), 'the heartbeat reply');
      expect(raw.frames).toContainEqual([null, '9', 'phoenix', 'phx_reply', { status: 'ok', response: {} }]);
    } finally {
      raw.ws.close();
    }
  });
});

describe('limits', () => {
  it('a broadcast over Realtime\'s 3,000 KB payload limit (a 3.5 MB frame) is refused with ack, not delivered, and the socket stays open', async () => {
    const topic = `realtime:big-${crypto.randomUUID()}`;
    const sender = await rawSocket(`apikey=${stack.ANON_KEY}&vsn=1.0.0`);
    const receiver = await rawSocket(`apikey=${stack.ANON_KEY}&vsn=1.0.0`);
    const join = (ack: boolean) => JSON.stringify({ topic, event: 'phx_join', ref: '1', join_ref: '1',
      payload: { config: { private: true, broadcast: { ack } }, access_token: stack.SERVICE_ROLE_KEY } });
    try {
      sender.ws.send(join(true));
      receiver.ws.send(join(false));
      await eventually(() => sender.frames.length === 1 && receiver.frames.length === 1, 'both join replies');
      const send = (ref: string, payload: unknown) =>
        sender.ws.send(JSON.stringify({ topic, event: 'broadcast', ref, join_ref: '1', payload: { type: 'broadcast', event: 'e', payload } }));
      send('2', { big: 'x'.repeat(MAX_BROADCAST_PAYLOAD_BYTES + 500_000) });
      send('3', { small: true });
      await eventually(() => sender.frames.length === 3, 'both acks');
      expect(sender.frames.slice(1)).toEqual([
        { topic, event: 'phx_reply', ref: '2', payload: { status: 'error', response: 'payload_size_exceeded' } },
        { topic, event: 'phx_reply', ref: '3', payload: { status: 'ok', response: {} } },
      ]);
      await eventually(() => receiver.frames.length === 2, 'the small broadcast');
      expect(receiver.frames[1]).toMatchObject({ payload: { event: 'e', payload: { small: true } } });
    } finally {
      sender.ws.close();
      receiver.ws.close();
    }
  });

  it(`a socket may hold ${MAX_CHANNELS_PER_CLIENT} channels; the next join is refused with Realtime's ChannelRateLimitReached`, async () => {
    const raw = await rawSocket(`apikey=${stack.ANON_KEY}&vsn=2.0.0`);
    try {
      // The service role passes RLS, so every topic is readable: only the limit can refuse.
      const join = { config: { private: true }, access_token: stack.SERVICE_ROLE_KEY };
      const prefix = `realtime:limit-${crypto.randomUUID()}`;
      for (let i = 0; i <= MAX_CHANNELS_PER_CLIENT; i++) raw.send([String(i), String(i), `${prefix}:${i}`, 'phx_join', join]);
      await eventually(() => raw.frames.length === MAX_CHANNELS_PER_CLIENT + 1, 'every join reply', 30_000);
      const statuses = raw.frames.map((f) => (f as [string, string, string, string, { status: string }])[4].status);
      expect(statuses.slice(0, MAX_CHANNELS_PER_CLIENT).every((s) => s === 'ok')).toBe(true);
      expect(raw.frames.at(-1)).toEqual([String(MAX_CHANNELS_PER_CLIENT), String(MAX_CHANNELS_PER_CLIENT), `${prefix}:${MAX_CHANNELS_PER_CLIENT}`,
        'phx_reply', { status: 'error', response: { reason: 'ChannelRateLimitReached: Too many channels' } }]);
    } finally {
      raw.ws.close();
    }
  });
});

describe('HTTP broadcast API: odd input is a 4xx or delivered, never a 500', () => {
  const headers = { apikey: stack.ANON_KEY, authorization: `Bearer ${stack.SERVICE_ROLE_KEY}`, 'content-type': 'application/json' };

  it('a malformed percent-encoding in the single-message path is 400, as Plug refuses it', async () => {
    const res = await fetch(`${stack.API_URL}/realtime/v1/api/broadcast/vault%E0%A4%A/events/logs`, {
      method: 'POST', headers, body: JSON.stringify({ n: 1 }),
    });
    expect({ status: res.status, body: await res.json() }).toEqual({ status: 400, body: 'Bad Request' });
  });

  it('an event longer than V2\'s 255 bytes is accepted (202) and still reaches a 1.0.0 subscriber', async () => {
    const topic = `realtime:long-event-${crypto.randomUUID()}`;
    const join = { config: { private: true }, access_token: stack.SERVICE_ROLE_KEY };
    const v2 = await rawSocket(`apikey=${stack.ANON_KEY}&vsn=2.0.0`);
    const v1 = await rawSocket(`apikey=${stack.ANON_KEY}&vsn=1.0.0`);
    try {
      v2.send(['1', '1', topic, 'phx_join', join]);
      v1.ws.send(JSON.stringify({ topic, event: 'phx_join', payload: join, ref: '1', join_ref: '1' }));
      await eventually(() => v2.frames.length === 1 && v1.frames.length === 1, 'both join replies');
      const event = 'e'.repeat(300);
      const res = await fetch(`${stack.API_URL}/realtime/v1/api/broadcast`, {
        method: 'POST', headers,
        body: JSON.stringify({ messages: [{ topic: topic.slice('realtime:'.length), event, payload: { n: 1 }, private: true }] }),
      });
      expect(res.status).toBe(202);
      await eventually(() => v1.frames.length === 2, 'the broadcast on 1.0.0');
      expect(v1.frames[1]).toEqual({ topic, event: 'broadcast', payload: { type: 'broadcast', event, payload: { n: 1 } }, ref: null });
    } finally {
      v2.ws.close();
      v1.ws.close();
    }
  });
});

describe('realtime.send as Supabase defines it', () => {
  it.each([
    ['realtime.send', `select realtime.send('[1]'::jsonb, 'e', 'robustness', true)`],
    ['realtime.send_binary', `select realtime.send_binary('\\x00'::bytea, 'e', null, true)`],
  ])('%s never fails its caller: a failed insert is WARNING WarnSendingBroadcastMessage (migration 20260605120000)', async (_name, query) => {
    const notices: Array<{ severity?: string; message?: string }> = [];
    const sql = postgres(stack.DB_URL, { max: 1, onnotice: (n) => notices.push(n) });
    try {
      await sql.unsafe(query);
    } finally {
      await sql.end({ timeout: 5 });
    }
    expect(notices).toEqual([expect.objectContaining({ severity: 'WARNING', message: expect.stringMatching(/^WarnSendingBroadcastMessage: /) })]);
  });
});

describe('connections', () => {
  it.each(['realtime', 'gateway'])('a client resetting its connection after a refused upgrade does not end the process (%s)', async (mode) => {
    const script = path.join(import.meta.dirname, 'support', 'realtime-upgrade-reset.ts');
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script, mode], { timeout: 30_000 })
      .catch((error: { stdout?: string; stderr?: string; code?: number }) => ({ stdout: `exit ${error.code}: ${error.stderr}` }));
    expect(stdout.trim()).toBe('alive');
  });
});
