/**
 * Devices through the client library (issue 19): two devices of one user, each signed in with its
 * own Auth session, with both transports. client.device after first use, client.devices(),
 * client.revokeDevice(id): the revoked device's next call raises SessionRevokedError, its refresh
 * fails, its live sync stops; a log's deviceId is the pushing session's device and still decrypts.
 */
import type { SupabaseClient } from '@supabase/supabase-js';
import { afterEach, describe, expect, it } from 'vitest';
import {
  edgeFunctionTransport, HaexSyncClient, type LiveState, type LiveSync, SessionRevokedError, UsageError,
} from '../client/src/index.ts';
import { authClient, newEmail, newPassword } from './support/auth.ts';
import { eventually } from './support/realtime.ts';

async function signIn(email: string, password: string): Promise<SupabaseClient> {
  const client = authClient();
  const { error } = await client.auth.signInWithPassword({ email, password });
  expect(error).toBeNull();
  return client;
}

async function twoDevices(transport: 'rpc' | 'edge') {
  const email = newEmail('devices');
  const password = newPassword();
  expect((await authClient().auth.signUp({ email, password })).error).toBeNull();
  const [laptopAuth, phoneAuth] = await Promise.all([signIn(email, password), signIn(email, password)]);
  const make = (supabase: SupabaseClient, deviceName: string) => HaexSyncClient.create(transport === 'rpc'
    ? { supabase, deviceName }
    : { supabase, transport: edgeFunctionTransport(supabase), deviceName });
  return { laptopAuth, phoneAuth, laptop: make(laptopAuth, 'laptop'), phone: make(phoneAuth, 'phone') };
}

const lives: LiveSync[] = [];
const clients: SupabaseClient[] = [];
afterEach(async () => {
  await Promise.all(lives.splice(0).map((l) => l.stop()));
  await Promise.all(clients.splice(0).map((c) => c.removeAllChannels()));
});

describe.each(['rpc', 'edge'] as const)('devices through the client library (%s transport)', (transport) => {
  it('revoking the phone: its next call raises SessionRevokedError, its refresh fails, its live sync stops', async () => {
    const { laptop, phone, laptopAuth, phoneAuth } = await twoDevices(transport);
    clients.push(laptopAuth, phoneAuth);
    expect(laptop.device).toBeUndefined();
    const vaultPassword = newPassword();
    const vault = await laptop.createVault(vaultPassword);
    expect(laptop.device).toEqual({ id: expect.any(String), name: 'laptop' });
    const phoneVault = await phone.unlockVault(vault.vaultId, vaultPassword);
    const phoneDevice = phone.device!;
    expect(phoneDevice.name).toBe('phone');

    const listed = await laptop.devices();
    expect(listed.map((d) => [d.id, d.name, d.current, d.revokedAt])).toEqual([
      [laptop.device!.id, 'laptop', true, null], [phoneDevice.id, 'phone', false, null],
    ]);

    // The phone syncs live; a laptop change arrives with the laptop's device id, decrypted.
    const applied: Array<{ data: unknown; deviceId: string | null }> = [];
    const states: Array<{ state: LiveState; error?: Error }> = [];
    const live = phoneVault.live({
      cursor: 0, apply: (logs) => { for (const l of logs) applied.push({ data: l.data, deviceId: l.deviceId }); },
      onState: (state, detail) => states.push({ state, error: detail?.error }),
    });
    lives.push(live);
    await eventually(() => live.state === 'live', 'the phone to be live', 10_000);
    await vault.push([{ data: { n: 1 }, haexTimestamp: `${Date.now()}-1` }]);
    await eventually(() => applied.length === 1, 'the phone to apply the laptop\'s change', 10_000);
    expect(applied).toEqual([{ data: { n: 1 }, deviceId: laptop.device!.id }]);

    await laptop.revokeDevice(phoneDevice.id);
    // Its very next call, without waiting for anything.
    await expect(phone.listVaults()).rejects.toBeInstanceOf(SessionRevokedError);
    await expect(phoneVault.push([{ data: { n: 2 }, haexTimestamp: `${Date.now()}-2` }])).rejects.toBeInstanceOf(SessionRevokedError);
    const refreshed = await phoneAuth.auth.refreshSession();
    expect(refreshed.error?.code).toBe('refresh_token_not_found');

    // Live sync stops by itself with the error (the laptop's next push pokes it into a pull, at the latest).
    await vault.push([{ data: { n: 3 }, haexTimestamp: `${Date.now()}-3` }]);
    await eventually(() => live.state === 'stopped', 'the phone\'s live sync to stop', 10_000);
    expect(live.error).toBeInstanceOf(SessionRevokedError);
    expect(states.at(-1)).toEqual({ state: 'stopped', error: live.error });
    expect(applied.map((a) => a.data)).toEqual([{ n: 1 }]);

    // The laptop goes on, and lists the phone as revoked.
    const after = await laptop.devices();
    expect(after.find((d) => d.id === phoneDevice.id)!.revokedAt).not.toBeNull();
    expect((await laptop.listVaults()).map((v) => v.vaultId)).toEqual([vault.vaultId]);
  });

  it('a client may revoke its own device; then every call raises SessionRevokedError', async () => {
    const { laptop, laptopAuth, phoneAuth } = await twoDevices(transport);
    clients.push(laptopAuth, phoneAuth);
    await laptop.listVaults();
    await laptop.revokeDevice(laptop.device!.id);
    await expect(laptop.listVaults()).rejects.toBeInstanceOf(SessionRevokedError);
    await expect(laptop.devices()).rejects.toBeInstanceOf(SessionRevokedError);
  });

  it('logs encrypted in another session are refused before they are sent (they would not authenticate)', async () => {
    const { laptop, phone, laptopAuth, phoneAuth } = await twoDevices(transport);
    clients.push(laptopAuth, phoneAuth);
    const vaultPassword = newPassword();
    const vault = await laptop.createVault(vaultPassword);
    const encrypted = await vault.encrypt([{ data: { x: 1 }, haexTimestamp: `${Date.now()}` }]);
    expect(encrypted[0]!.deviceId).toBe(laptop.device!.id);
    const phoneVault = await phone.unlockVault(vault.vaultId, vaultPassword);
    await expect(phoneVault.push(encrypted)).rejects.toBeInstanceOf(UsageError);
    expect((await vault.push(encrypted)).logs).toHaveLength(1);
  });
});
