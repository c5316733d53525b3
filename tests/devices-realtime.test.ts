/**
 * The embedded Realtime and ended sessions (issue 19): a revoked device's channel is closed at once
 * (revoke_device's NOTIFY), a signed-out session's within the periodic check, and a join from an
 * ended session is refused; the user's other device keeps its channel and its pokes.
 */
import type { SupabaseClient } from '@supabase/supabase-js';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureUser, type StackUser } from '../stack/users.ts';
import { SESSION_ENDED_CHANNEL } from '../stack/realtime/database.ts';
import { SESSION_CHECK_MS } from '../stack/realtime/sessions.ts';
import { authHttp } from './support/auth.ts';
import { createVault, entry } from './support/sql-fixtures.ts';
import { eventually, joinVault, type Joined, realtimeClient } from './support/realtime.ts';
import { adminSql, newUser, rpc, sessionIdOf, signToken, stack } from './support/stack.ts';

const anotherSession = (user: StackUser) => ensureUser(stack.DB_URL, user.email, {
  jwtSecret: stack.JWT_SECRET, signingKeys: stack.SIGNING_KEYS, apiUrl: stack.API_URL, expiresInSeconds: stack.JWT_EXPIRY,
});

const clients: SupabaseClient[] = [];
afterEach(async () => { await Promise.all(clients.splice(0).map((c) => c.removeAllChannels())); });

async function join(user: StackUser, vaultId: string): Promise<Joined> {
  const client = realtimeClient(user.access_token);
  clients.push(client);
  return joinVault(client, vaultId);
}

const LOST = (vaultId: string) => `You no longer have permission to read from this Channel topic: vault:${vaultId}`;

describe('Realtime and ended sessions', () => {
  it('revoking a device closes its channel at once and refuses its next join; the other device keeps receiving', async () => {
    const laptop = await newUser('rt-devices');
    const phone = await anotherSession(laptop);
    const { vault_id: vaultId } = await createVault(laptop);
    const registered = await rpc('register_device', { device_name: 'phone' }, phone.access_token);
    const [laptopChannel, phoneChannel] = [await join(laptop, vaultId), await join(phone, vaultId)];
    expect([laptopChannel.status, phoneChannel.status]).toEqual(['SUBSCRIBED', 'SUBSCRIBED']);

    // Only revoke_device's notice may close it: its Auth session row is kept (a rule for this one
    // session), so the periodic check, which looks for missing sessions, sees nothing to close.
    const sessionId = sessionIdOf(phone);
    await adminSql().unsafe(`create rule keep_${sessionId.replace(/-/g, '')} as on delete to auth.sessions
      where old.id = '${sessionId}' do instead nothing`);
    try {
      expect((await rpc('revoke_device', { device_id: registered.body[0].id }, laptop.access_token)).status).toBe(204);
      await eventually(() => phoneChannel.later.includes('CLOSED'), 'the phone\'s channel to close', 2 * SESSION_CHECK_MS);
      expect((await adminSql()`select count(*)::int as n from auth.sessions where id = ${sessionId}`)[0]!.n).toBe(1);
    } finally {
      await adminSql().unsafe(`drop rule keep_${sessionId.replace(/-/g, '')} on auth.sessions`);
    }
    expect(phoneChannel.system).toEqual([expect.objectContaining({ status: 'error', message: LOST(vaultId) })]);

    const again = await join(phone, vaultId);
    expect(again.status).toBe('CHANNEL_ERROR');
    expect(again.error).toContain('Unauthorized');

    expect((await rpc('push_logs', { vault_id: vaultId, logs: [entry()] }, laptop.access_token)).status).toBe(200);
    await eventually(() => laptopChannel.received.length === 1, 'the laptop\'s poke');
    expect(laptopChannel.later).toEqual([]);
    expect(phoneChannel.received).toEqual([]);
  });

  it('revoke_device\'s notice alone closes the session\'s channels (the periodic check would not: the session row is still there)', async () => {
    const user = await newUser('rt-notice');
    const { vault_id: vaultId } = await createVault(user);
    const joined = await join(user, vaultId);
    expect(joined.status).toBe('SUBSCRIBED');
    await adminSql()`select pg_notify(${SESSION_ENDED_CHANNEL}, ${sessionIdOf(user)})`;
    await eventually(() => joined.later.includes('CLOSED'), 'the channel to close', 3 * SESSION_CHECK_MS);
    expect(joined.system).toEqual([expect.objectContaining({ status: 'error', message: LOST(vaultId) })]);
  });

  it('a signed-out session\'s channel is closed by the periodic check; its join is refused', async () => {
    const desk = await newUser('rt-signout');
    const tablet = await anotherSession(desk);
    const { vault_id: vaultId } = await createVault(desk);
    const [deskChannel, tabletChannel] = [await join(desk, vaultId), await join(tablet, vaultId)];
    expect([deskChannel.status, tabletChannel.status]).toEqual(['SUBSCRIBED', 'SUBSCRIBED']);
    expect((await authHttp('/logout?scope=local', { method: 'POST', token: tablet.access_token })).status).toBe(204);
    await eventually(() => tabletChannel.later.includes('CLOSED'), 'the tablet\'s channel to close', 2 * SESSION_CHECK_MS + 1_000);
    expect(tabletChannel.system).toEqual([expect.objectContaining({ status: 'error', message: LOST(vaultId) })]);
    expect((await join(tablet, vaultId)).status).toBe('CHANNEL_ERROR');
    expect(deskChannel.later).toEqual([]);
  });

  it('a token without session_id (not issued by the project\'s Auth) is decided by RLS alone: its own vault, not another\'s', async () => {
    const [user, other] = await Promise.all([newUser('rt-nosession'), newUser('rt-other')]);
    const { vault_id: vaultId } = await createVault(user);
    const { vault_id: othersVault } = await createVault(other);
    const now = Math.floor(Date.now() / 1000);
    const token = signToken({ sub: user.id, role: 'authenticated', aud: 'authenticated', iat: now, exp: now + 600 });
    expect((await join({ ...user, access_token: token }, vaultId)).status).toBe('SUBSCRIBED');
    expect((await join({ ...user, access_token: token }, othersVault)).status).toBe('CHANNEL_ERROR');
    // one naming a session that is not its user's is refused
    const foreign = signToken({ sub: user.id, role: 'authenticated', aud: 'authenticated', iat: now, exp: now + 600, session_id: sessionIdOf(other) });
    expect((await join({ ...user, access_token: foreign }, vaultId)).status).toBe('CHANNEL_ERROR');
  });
});
