/**
 * Who may receive and who may send on `vault:<id>` through the embedded Realtime server, as
 * supabase-js sees it: joins refused with Realtime's wording, nothing delivered to refused parties,
 * no client broadcast on a vault topic (websocket or HTTP), and a channel closed at token expiry.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SupabaseClient } from '@supabase/supabase-js';
import { signJwt } from '../stack/jwt.ts';
import type { StackUser } from '../stack/users.ts';
import { createVault, entry } from './support/sql-fixtures.ts';
import { eventually, joinVault, rawSocket, realtimeClient, sleep, type Joined } from './support/realtime.ts';
import { expiredTokenFor, forgedTokenFor, newUser, rpc, sessionIdOf, stack, signToken } from './support/stack.ts';

let alice: StackUser;
let bob: StackUser;
let vaultId: string;
const clients: SupabaseClient[] = [];
const client = (...args: Parameters<typeof realtimeClient>) => {
  const c = realtimeClient(...args);
  clients.push(c);
  return c;
};

beforeEach(async () => {
  [alice, bob] = await Promise.all([newUser('alice'), newUser('bob')]);
  ({ vault_id: vaultId } = await createVault(alice));
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.removeAllChannels()));
});

const push = async (n = 1) => {
  const res = await rpc('push_logs', { vault_id: vaultId, logs: Array.from({ length: n }, () => entry()) }, alice.access_token);
  expect(res.status).toBe(200);
  return res.body as { last_sequence: number };
};

/** Alice's own device, joined: the control that a poke does get through. */
const aliceDevice = async () => {
  const joined = await joinVault(client(alice.access_token), vaultId);
  expect(joined).toMatchObject({ status: 'SUBSCRIBED', error: undefined });
  return joined;
};

describe('receiving', () => {
  it.each(['2.0.0', '1.0.0'] as const)('the owner joins with serializer %s and receives the poke of her push', async (vsn) => {
    const joined = await joinVault(client(alice.access_token, { vsn }), vaultId);
    expect(joined.status).toBe('SUBSCRIBED');
    const { last_sequence } = await push(2);
    await eventually(() => joined.received.length === 1, 'the poke');
    expect(joined.received[0]).toMatchObject({ type: 'broadcast', event: 'logs', payload: { vaultId, lastSequence: last_sequence } });
  });

  const refusals: Array<[string, () => string | undefined, string]> = [
    ['another user', () => bob.access_token, `Unauthorized: You do not have permissions to read from this Channel topic: vault:${'ID'}`],
    ['anon (apikey only)', () => undefined, `Unauthorized: You do not have permissions to read from this Channel topic: vault:${'ID'}`],
    ['an expired token of the owner', () => expiredTokenFor(alice), 'InvalidJWTToken: Token has expired'],
    ['a forged token of the owner', () => forgedTokenFor(alice), 'JwtSignatureError: Failed to validate JWT signature'],
  ];
  it.each(refusals)('%s is refused the join and receives nothing', async (_name, token, reason) => {
    const owner = await aliceDevice();
    const joined = await joinVault(client(token()), vaultId);
    expect(joined.status).toBe('CHANNEL_ERROR');
    expect(joined.error).toContain(reason.replace('ID', vaultId));
    await push();
    await eventually(() => owner.received.length === 1, 'the owner\'s poke');
    await sleep(200);
    expect(joined.received).toEqual([]);
  });

  it('a raw socket of another user gets only the error reply and no broadcast frame', async () => {
    const owner = await aliceDevice();
    const raw = await rawSocket(`apikey=${stack.ANON_KEY}&vsn=2.0.0`);
    try {
      raw.send(['1', '1', `realtime:vault:${vaultId}`, 'phx_join', { config: { private: true }, access_token: bob.access_token }]);
      await eventually(() => raw.frames.length === 1, 'the join reply');
      await push();
      await eventually(() => owner.received.length === 1, 'the owner\'s poke');
      await sleep(200);
      expect(raw.frames).toEqual([['1', '1', `realtime:vault:${vaultId}`, 'phx_reply', {
        status: 'error', response: { reason: `Unauthorized: You do not have permissions to read from this Channel topic: vault:${vaultId}` },
      }]]);
    } finally {
      raw.ws.close();
    }
  });

  it('a public (non-private) channel is refused: the stack allows private channels only', async () => {
    const c = client(alice.access_token);
    const channel = c.channel(`vault:${vaultId}`);
    const status = await new Promise<{ status: string; error?: string }>((resolve) =>
      channel.subscribe((s, e) => resolve({ status: s, error: e?.message })));
    expect(status).toEqual({ status: 'CHANNEL_ERROR', error: 'PrivateOnly: This project only allows private channels' });
  });

  it('the websocket refuses an apikey that is not a project key (401)', async () => {
    const forged = signJwt({ role: 'anon', exp: 1983812996 }, 'not-the-secret-but-long-enough-to-look-real-0123456789');
    await expect(rawSocket(`apikey=${forged}&vsn=2.0.0`)).rejects.toThrow(/401/);
    await expect(rawSocket('vsn=2.0.0')).rejects.toThrow(/401/);
  });
});

describe('sending: no client can broadcast on a vault topic', () => {
  it('by websocket: the owner\'s broadcast is not acknowledged and reaches none of her other devices', async () => {
    const receiver = await aliceDevice();
    const sender = await joinVault(client(alice.access_token), vaultId, { broadcast: { ack: true, self: true } });
    expect(sender.status).toBe('SUBSCRIBED');
    // A raw socket of hers with ack on: a channel handles its messages in order, so the reply to the
    // phx_leave sent right after the broadcast proves the broadcast was handled, without an ack.
    const raw = await rawSocket(`apikey=${stack.ANON_KEY}&vsn=2.0.0`);
    try {
      const topic = `realtime:vault:${vaultId}`;
      raw.send(['1', '1', topic, 'phx_join', { config: { private: true, broadcast: { ack: true, self: true } }, access_token: alice.access_token }]);
      await eventually(() => raw.frames.some((f: any) => f[1] === '1' && f[3] === 'phx_reply'), 'the join reply');
      expect(raw.frames.find((f: any) => f[1] === '1')).toMatchObject(['1', '1', topic, 'phx_reply', { status: 'ok' }]);
      raw.send(['1', '2', topic, 'broadcast', { type: 'broadcast', event: 'logs', payload: { vaultId, lastSequence: 999 } }]);
      raw.send(['1', '3', topic, 'phx_leave', {}]);
      await eventually(() => raw.frames.some((f: any) => f[1] === '3'), 'the leave reply');
      expect(raw.frames.filter((f: any) => f[1] === '2')).toEqual([]); // no ack, and no error either
    } finally {
      raw.ws.close();
    }
    // the pipe works: a real push still arrives, and it is the only thing that did
    const { last_sequence } = await push();
    await eventually(() => receiver.received.length === 1, 'the real poke');
    expect(receiver.received.map((m) => m.payload.lastSequence)).toEqual([last_sequence]);
    expect(sender.received.map((m) => m.payload.lastSequence)).toEqual([last_sequence]);
  });

  it.each([
    ['the owner', () => alice.access_token],
    ['another user', () => bob.access_token],
    ['anon', () => undefined],
  ])('by HTTP: %s is not delivered (batch 202 dropped, single 403), while the service role is', async (_name, token) => {
    const receiver = await aliceDevice();
    const headers = (t?: string) => ({ apikey: stack.ANON_KEY, 'content-type': 'application/json', ...(t ? { authorization: `Bearer ${t}` } : {}) });
    const batch = await fetch(`${stack.API_URL}/realtime/v1/api/broadcast`, {
      method: 'POST', headers: headers(token()),
      body: JSON.stringify({ messages: [{ topic: `vault:${vaultId}`, event: 'logs', payload: { lastSequence: 999 }, private: true }] }),
    });
    expect(batch.status).toBe(202);
    const single = await fetch(`${stack.API_URL}/realtime/v1/api/broadcast/${encodeURIComponent(`vault:${vaultId}`)}/events/logs?private=true`, {
      method: 'POST', headers: headers(token()), body: JSON.stringify({ lastSequence: 998 }),
    });
    expect({ status: single.status, body: await single.json() }).toEqual({ status: 403, body: { message: 'Unauthorized' } });
    // supabase-js' own REST fallback (send() on a channel that is not joined)
    const unjoined = client(token()).channel(`vault:${vaultId}`, { config: { private: true } });
    await unjoined.httpSend('logs', { lastSequence: 997 }).catch(() => {});
    // control: the service role bypasses RLS, so its broadcast is delivered
    const control = await fetch(`${stack.API_URL}/realtime/v1/api/broadcast`, {
      method: 'POST', headers: headers(stack.SERVICE_ROLE_KEY),
      body: JSON.stringify({ messages: [{ topic: `vault:${vaultId}`, event: 'control', payload: { n: 1 }, private: true }] }),
    });
    expect(control.status).toBe(202);
    await eventually(() => receiver.received.length === 1, 'the control broadcast');
    await sleep(100);
    expect(receiver.received.map((m) => m.event)).toEqual(['control']);
  });

  it('by HTTP with a user\'s forged token as bearer: 401 {"message":"Unauthorized"}', async () => {
    const res = await fetch(`${stack.API_URL}/realtime/v1/api/broadcast`, {
      method: 'POST', headers: { apikey: stack.ANON_KEY, authorization: `Bearer ${forgedTokenFor(alice)}`, 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ topic: `vault:${vaultId}`, event: 'logs', payload: {}, private: true }] }),
    });
    expect({ status: res.status, body: await res.json() }).toEqual({ status: 401, body: { message: 'Unauthorized' } });
  });
});

describe('channel lifetime', () => {
  it('a channel closes when its token expires: system message with Realtime\'s wording, then CLOSED, then nothing', async () => {
    const now = Math.floor(Date.now() / 1000);
    const shortToken = signToken({ sub: alice.id, role: 'authenticated', aud: 'authenticated', session_id: sessionIdOf(alice), iat: now, exp: now + 2 });
    const joined: Joined = await joinVault(client(shortToken), vaultId);
    expect(joined.status).toBe('SUBSCRIBED');
    await eventually(() => joined.later.includes('CLOSED'), 'the channel to close', 6000);
    expect(joined.system).toEqual([expect.objectContaining({
      extension: 'system', status: 'error', channel: `vault:${vaultId}`, message: expect.stringMatching(/^Token has expired \d+ seconds ago$/),
    })]);
    const owner = await aliceDevice();
    await push();
    await eventually(() => owner.received.length === 1, 'the owner\'s poke');
    await sleep(100);
    expect(joined.received).toEqual([]);
  });

  const tokenOf = (user: StackUser, seconds: number) => {
    const now = Math.floor(Date.now() / 1000);
    return signToken({ sub: user.id, role: 'authenticated', aud: 'authenticated', session_id: sessionIdOf(user), iat: now, exp: now + seconds });
  };

  it('an access_token refresh before expiry keeps the channel open and receiving past the old expiry', async () => {
    let token = tokenOf(alice, 2);
    const c = client(() => token);
    const joined = await joinVault(c, vaultId);
    expect(joined.status).toBe('SUBSCRIBED');
    token = tokenOf(alice, 3600);
    await c.realtime.setAuth(); // sent to the joined channel as access_token
    await sleep(3000);
    expect({ later: joined.later, system: joined.system }).toEqual({ later: [], system: [] });
    const { last_sequence } = await push();
    await eventually(() => joined.received.length === 1, 'the poke after the old expiry');
    expect(joined.received[0]!.payload.lastSequence).toBe(last_sequence);
  });

  it('an access_token refresh to another user\'s token closes the channel: read permission revoked', async () => {
    let token = alice.access_token;
    const c = client(() => token);
    const joined = await joinVault(c, vaultId);
    expect(joined.status).toBe('SUBSCRIBED');
    token = bob.access_token;
    await c.realtime.setAuth();
    await eventually(() => joined.later.includes('CLOSED'), 'the channel to close');
    expect(joined.system).toEqual([expect.objectContaining({
      extension: 'system', status: 'error', message: `You no longer have permission to read from this Channel topic: vault:${vaultId}`,
    })]);
    await push();
    await sleep(300);
    expect(joined.received).toEqual([]);
  });

  it('heartbeats are answered, and leaving is acknowledged', async () => {
    const raw = await rawSocket(`apikey=${stack.ANON_KEY}&vsn=2.0.0`);
    try {
      raw.send([null, '7', 'phoenix', 'heartbeat', {}]);
      await eventually(() => raw.frames.length === 1, 'the heartbeat reply');
      expect(raw.frames[0]).toEqual([null, '7', 'phoenix', 'phx_reply', { status: 'ok', response: {} }]);
    } finally {
      raw.ws.close();
    }
    const joined = await aliceDevice();
    expect(await joined.channel.unsubscribe()).toBe('ok');
  });
});
