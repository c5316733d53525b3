/**
 * Run by tests/live-ends.test.ts in a child process: one supabase-js client with two live syncs on
 * two vaults; it stops the first, checks the socket is still open for the second, stops the second
 * and prints `stopped`. Nothing else is closed by hand: the process must then end by itself.
 * Env: API_URL, CLIENT_KEY, ACCESS_TOKEN (a user's).
 */
import { createClient } from '@supabase/supabase-js';
import WebSocket from 'ws';
import { HaexSyncClient, type LiveSync } from '../../client/src/index.ts';

const { API_URL, CLIENT_KEY, ACCESS_TOKEN } = process.env;
const supabase = createClient(API_URL!, CLIENT_KEY!, {
  auth: { persistSession: false, autoRefreshToken: false },
  accessToken: async () => ACCESS_TOKEN!,
  realtime: { transport: WebSocket as never },
});
const client = HaexSyncClient.create({ supabase, deviceName: 'live-stop script' });

async function goLive(): Promise<LiveSync> {
  const vault = await client.createVault('script vault password');
  let live: () => void;
  const isLive = new Promise<void>((resolve) => { live = resolve; });
  const sync = vault.live({ cursor: 0, apply: () => {}, onState: (state) => { if (state === 'live') live(); } });
  await isLive;
  return sync;
}

const first = await goLive();
const second = await goLive();
await first.stop();
if (!supabase.realtime.isConnected()) throw new Error('stopping one of two live syncs closed the socket the other uses');
await second.stop();
console.log('stopped');
