/**
 * Live devices survive a restart of the whole embedded stack (its own throwaway stack, restarted on
 * the same data dir and ports): they resubscribe by themselves and catch up with what was pushed
 * while the stack was down or before they were back.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, expect, it } from 'vitest';
import { ensureUser } from '../stack/users.ts';
import { goLive, openDevice, type Device } from './support/live-devices.ts';
import { eventually } from './support/realtime.ts';
import { startThrowawayStack } from './support/throwaway-stack.ts';

const devices: Device[] = [];
let stack: Awaited<ReturnType<typeof startThrowawayStack>> | undefined;
afterAll(async () => {
  await Promise.all(devices.map(async (d) => { await d.live?.stop(); await d.supabase.removeAllChannels(); }));
  await stack?.dispose();
});

it('after a restart of the embedded stack, live devices resubscribe and catch up', async () => {
  stack = await startThrowawayStack({ quiet: true });
  const { info, config } = stack;
  const user = await ensureUser(info.DB_URL, `restart-${randomUUID()}@test.haex.local`,
    { jwtSecret: info.JWT_SECRET, apiUrl: info.API_URL, expiresInSeconds: 3600 });
  const base = { token: user.access_token, vaultId: randomUUID(), password: 'pw', apiUrl: info.API_URL, anonKey: info.ANON_KEY };
  const pusher = await openDevice({ ...base, transport: 'rpc', create: true });
  const live = await Promise.all([openDevice({ ...base, transport: 'rpc' }), openDevice({ ...base, transport: 'edge' })]);
  devices.push(pusher, ...live);
  for (const d of live) goLive(d, 0); // no periodic check: only catch-up and pokes can deliver
  await eventually(() => live.every((d) => d.live!.state === 'live'), 'devices live');
  await pusher.vault.push([{ data: { n: 1 }, haexTimestamp: '1' }]);
  await eventually(() => live.every((d) => d.live!.cursor === 1), 'the first log');

  // Restart on the same data dir and ports.
  const dataDir = stack.dataDir;
  await stack.stop();
  await eventually(() => live.every((d) => d.states.includes('reconnecting')), 'devices to notice');
  stack = await startThrowawayStack({ dataDir, quiet: true, config: { apiPort: config.apiPort, dbPort: config.dbPort } });
  const disposeDir = stack.dispose;
  stack.dispose = async () => { await disposeDir(); (await import('node:fs')).rmSync(dataDir, { recursive: true, force: true }); };

  await pusher.vault.push([{ data: { n: 2 }, haexTimestamp: '2' }, { data: { n: 3 }, haexTimestamp: '3' }]);
  await eventually(() => live.every((d) => d.live!.cursor === 3), 'devices to catch up after the restart', 45_000);
  await eventually(() => live.every((d) => d.live!.state === 'live'), 'devices live again', 30_000);
  for (const d of live) expect(d.applied.map((a) => a.data)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
  // and pokes flow again: a push after the resubscription arrives without waiting for a check
  await pusher.vault.push([{ data: { n: 4 }, haexTimestamp: '4' }]);
  await eventually(() => live.every((d) => d.live!.cursor === 4), 'a poke after the restart', 5_000);
}, 180_000);
