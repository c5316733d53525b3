/**
 * vault.live() on a vault that is gone (issue 21, item 4): it stops by itself and reports the
 * NotFoundError through its state (onError, then onState 'stopped' with the error, `live.error`,
 * `live.pull()` rejecting), instead of staying 'live' and pulling the old cursor forever; with both transports,
 * whether the next pull comes from the app, the periodic check, or a refused channel join.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { NotFoundError, type LiveState } from '../client/src/index.ts';
import { startLive } from '../client/src/live.ts';
import { eventually, realtimeClient } from './support/realtime.ts';
import { openDevice, type Device } from './support/live-devices.ts';
import { newUser, rpc, stack } from './support/stack.ts';

const devices: Device[] = [];
afterEach(async () => {
  await Promise.all(devices.splice(0).map(async (d) => { await d.live?.stop(); await d.supabase.removeAllChannels(); }));
});

/** A vault with one log, a live device on it (caught up), and its creator, who can delete it. */
async function liveOnVault(transport: 'rpc' | 'edge', checkIntervalMs = 0) {
  const user = await newUser('gone');
  const base = { token: user.access_token, vaultId: randomUUID(), password: 'gone password', apiUrl: stack.API_URL, anonKey: stack.ANON_KEY };
  const creator = await openDevice({ ...base, transport: 'rpc', create: true });
  const device = await openDevice({ ...base, transport });
  devices.push(creator, device);
  await creator.vault.push([{ data: { n: 1 }, haexTimestamp: `${Date.now()}-1` }]);
  const reports: Array<{ state: LiveState; error?: Error }> = [];
  const errors: unknown[] = [];
  device.live = device.vault.live({
    cursor: 0, checkIntervalMs, apply: () => {},
    onState: (state, detail) => reports.push({ state, error: detail?.error }),
    onError: (error) => errors.push(error),
  });
  await eventually(() => device.live!.state === 'live' && device.live!.cursor === 1, 'the device to be live', 10_000);
  const deleteVault = async () => {
    const res = await rpc('delete_vault', { vault_id: base.vaultId }, user.access_token);
    if (res.status >= 300) throw new Error(`delete_vault: ${res.status} ${JSON.stringify(res.body)}`);
  };
  return { device, reports, errors, deleteVault };
}

describe('vault.live() when the vault is gone', () => {
  it.each(['rpc', 'edge'] as const)('stops and reports NotFoundError at the next pull (%s transport)', async (transport) => {
    const { device, reports, errors, deleteVault } = await liveOnVault(transport);
    await deleteVault();
    const pulled = await device.live!.pull().catch((error: unknown) => error);
    expect(pulled).toBeInstanceOf(NotFoundError);
    expect(device.live!.state).toBe('stopped');
    expect(device.live!.error).toBe(pulled);
    await eventually(() => reports.some((r) => r.state === 'stopped'), 'the stopped report', 5000);
    expect(reports.at(-1)).toEqual({ state: 'stopped', error: pulled });
    expect(errors).toEqual([pulled]); // onError first, as for every failed pull, then the state
  });

  it('is noticed by the periodic check without the app asking', async () => {
    const { device, deleteVault } = await liveOnVault('edge', 200);
    await deleteVault();
    await eventually(() => device.live!.state === 'stopped', 'live sync to stop', 5000);
    expect(device.live!.error).toBeInstanceOf(NotFoundError);
  });

  it('is noticed when the channel is joined again and refused, without a periodic check', async () => {
    const { device, deleteVault } = await liveOnVault('rpc');
    await deleteVault();
    device.dropSocket(); // the resubscription's join is refused: the vault's channel has no vault behind it
    await eventually(() => device.live!.state === 'stopped', 'live sync to stop', 15_000);
    expect(device.live!.error).toBeInstanceOf(NotFoundError);
  }, 30_000);

  it('an app\'s stop() leaves no error behind', async () => {
    const { device, reports } = await liveOnVault('rpc');
    await device.live!.stop();
    expect(device.live!.error).toBeUndefined();
    expect(reports.at(-1)).toEqual({ state: 'stopped', error: undefined });
  });

  it('a 404 that is not about the vault (a function not up yet after a restart) is retried, not taken for a gone vault', async () => {
    const user = await newUser('gone');
    const supabase = realtimeClient(user.access_token, { apiUrl: stack.API_URL, anonKey: stack.ANON_KEY });
    let pulls = 0;
    const starting = { // a vault whose pulls meet a gateway that has not registered the function yet
      vaultId: randomUUID(),
      sync: async () => { pulls++; throw new NotFoundError('pull: function not found', 404, 'function_not_found'); },
    };
    const errors: unknown[] = [];
    const live = startLive(starting, supabase, { cursor: 0, apply: () => {}, checkIntervalMs: 100, onError: (e) => errors.push(e) });
    try {
      await eventually(() => pulls >= 3, 'three pulls', 5000);
      expect(live.state).not.toBe('stopped');
      expect(live.error).toBeUndefined();
      expect(errors.length).toBeGreaterThanOrEqual(3);
    } finally {
      await live.stop();
      await supabase.removeAllChannels();
    }
  });
});
