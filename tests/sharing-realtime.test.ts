/**
 * The Realtime topic of a shared vault (policy "Members can receive their vault broadcasts"): every
 * member joins `vault:<id>` and receives the poke of another member's push; a removed member, with a
 * still-valid token, is refused a new join, as a stranger is.
 */
import type { SupabaseClient } from '@supabase/supabase-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StackUser } from '../stack/users.ts';
import { entry } from './support/sql-fixtures.ts';
import { newMember, sharedVault } from './support/sharing-fixtures.ts';
import { eventually, joinVault, realtimeClient } from './support/realtime.ts';
import { rpc } from './support/stack.ts';

let owner: StackUser, reader: StackUser, gone: StackUser, stranger: StackUser;
let vaultId: string;
const clients: SupabaseClient[] = [];
const client = (token: string) => {
  const c = realtimeClient(token);
  clients.push(c);
  return c;
};

beforeAll(async () => {
  [owner, reader, gone, stranger] = await Promise.all(['owner', 'reader', 'gone', 'stranger'].map(newMember)) as
    [StackUser, StackUser, StackUser, StackUser];
  vaultId = await sharedVault(owner, [[reader, 'reader'], [gone, 'writer']]);
});
afterAll(async () => { await Promise.all(clients.splice(0).map((c) => c.removeAllChannels())); });

describe('the vault topic of a shared vault', () => {
  it('a reader receives the poke of a writer\'s push', async () => {
    const joined = await joinVault(client(reader.access_token), vaultId);
    expect(joined.status).toBe('SUBSCRIBED');
    const pushed = await rpc('push_logs', { vault_id: vaultId, logs: [entry()] }, gone.access_token);
    expect(pushed.status).toBe(200);
    await eventually(() => joined.received.length === 1, 'the poke');
    expect(joined.received[0]).toMatchObject({ event: 'logs', payload: { vaultId, lastSequence: pushed.body.last_sequence } });
  });

  it('a removed member (still-valid token) and a stranger are refused the join', async () => {
    expect((await joinVault(client(gone.access_token), vaultId)).status).toBe('SUBSCRIBED'); // a member before
    expect((await rpc('remove_member', { vault_id: vaultId, user_id: gone.id }, owner.access_token)).status).toBe(204);
    for (const user of [gone, stranger]) {
      const joined = await joinVault(client(user.access_token), vaultId);
      expect(joined.status).toBe('CHANNEL_ERROR');
      expect(joined.error).toContain(`Unauthorized: You do not have permissions to read from this Channel topic: vault:${vaultId}`);
    }
  });
});
