/**
 * The embedded Realtime server's database listener loses its connection (pg_terminate_backend of
 * its backend) while a device is subscribed, and a push commits before the listener is back: the
 * device still gets that push's poke (replayed from realtime.messages), exactly once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { SupabaseClient } from '@supabase/supabase-js';
import { createVault, entry } from './support/sql-fixtures.ts';
import { eventually, joinVault, realtimeClient } from './support/realtime.ts';
import { adminSql, newUser, sessionIdOf } from './support/stack.ts';

let client: SupabaseClient | undefined;
afterEach(async () => { await client?.removeAllChannels(); });

const listenerPid = async () => (await adminSql()`select pid, backend_start from pg_stat_activity
  where application_name = 'realtime_embedded_listener' and datname = current_database()`)[0] as
  { pid: number; backend_start: Date } | undefined;

describe('the Realtime listener losing its database connection', () => {
  it('delivers the poke of a push committed while its backend was terminated, once, without a rejoin', async () => {
    const alice = await newUser('listener');
    const { vault_id } = await createVault(alice);
    client = realtimeClient(alice.access_token);
    const device = await joinVault(client, vault_id);
    expect(device.status).toBe('SUBSCRIBED');

    let inGap = 0;
    let lastSequence = 0;
    // A try whose push committed after the new listener connected proves nothing: try again (bounded).
    for (let attempt = 0; attempt < 5 && inGap < 2; attempt++) {
      await eventually(async () => (await listenerPid()) !== undefined, 'a listening backend');
      const old = (await listenerPid())!;
      const [row] = await adminSql().begin(async (sql) => {
        // The push as alice; its poke is sent at commit, which follows the termination at once.
        await sql`select set_config('role', 'authenticated', true),
          set_config('request.jwt.claims', ${JSON.stringify({ role: 'authenticated', sub: alice.id, session_id: sessionIdOf(alice) })}, true)`;
        const [pushed] = await sql`select public.push_logs(${vault_id}::uuid, ${sql.json([entry()])}) as r`;
        await sql`reset role`;
        // Signalled, not awaited: the commit follows within microseconds, long before a reconnect.
        const [gone] = await sql`select pg_terminate_backend(${old.pid}::int) as ok, clock_timestamp() as t`;
        return [{ last: pushed!.r.last_sequence as number, before: gone!.t as Date }];
      });
      lastSequence = row!.last;
      await eventually(async () => ((await listenerPid())?.pid ?? old.pid) !== old.pid, 'the listener reconnecting');
      // The push committed right after `before`; the new backend started after it: the poke fell in the gap.
      if ((await listenerPid())!.backend_start > row!.before) inGap++;
      await eventually(() => device.received.some((m) => m.payload.lastSequence === lastSequence), `the poke of sequence ${lastSequence}`);
    }
    expect(inGap).toBeGreaterThanOrEqual(1);
    const pokes = device.received.map((m) => m.payload.lastSequence);
    expect(pokes).toEqual([...new Set(pokes)]); // none twice
    expect(pokes).toContain(lastSequence);
    expect(device.later).toEqual([]); // the channel stayed joined: no rejoin was needed
  });
});
