/**
 * Devices for live-sync tests: each has its own supabase-js client (own Realtime socket), a transport
 * (rpc or edge-function), and a record of what it applied, with a count of its pulls in flight.
 */
import type { SupabaseClient } from '@supabase/supabase-js';
import { HaexSyncClient, type LiveState, type LiveSync, type Vault } from '../../client/src/index.ts';
import { edgeFunctionTransport } from '../../client/src/transport/edge-function.ts';
import { rpcTransport } from '../../client/src/transport/rpc.ts';
import type { SyncTransport } from '../../client/src/transport/types.ts';
import { realtimeClient } from './realtime.ts';

export interface Device {
  supabase: SupabaseClient;
  vault: Vault;
  live?: LiveSync;
  applied: Array<{ sequence: number; data: unknown }>;
  states: LiveState[];
  maxPullsInFlight: number;
  pulls: number;
  /** While set, every pull waits for it before it reaches the server (counted already). */
  pullGate?: Promise<void>;
  /** Drops the Realtime socket as a network failure would (supabase-js reconnects by itself). */
  dropSocket(): void;
}

export async function openDevice(opts: {
  token: string; vaultId: string; password: string; transport: 'rpc' | 'edge'; apiUrl: string; anonKey: string;
  create?: boolean;
  /** The token Realtime gets (default: `token`; null: none, so every join is refused). */
  realtimeToken?: string | null;
}): Promise<Device> {
  const realtimeToken = opts.realtimeToken === undefined ? opts.token : opts.realtimeToken ?? undefined;
  const supabase = realtimeClient(realtimeToken, { apiUrl: opts.apiUrl, anonKey: opts.anonKey });
  const base = opts.transport === 'rpc' ? rpcTransport(supabase)
    : edgeFunctionTransport({ url: `${opts.apiUrl}/functions/v1/sync`, accessToken: () => opts.token, apikey: opts.anonKey });
  let inFlight = 0;
  const device = { supabase, applied: [], states: [], maxPullsInFlight: 0, pulls: 0 } as unknown as Device;
  const counting: SyncTransport = Object.assign(Object.create(base) as SyncTransport, {
    name: base.name,
    pull: async (...args: Parameters<SyncTransport['pull']>) => {
      device.pulls++;
      device.maxPullsInFlight = Math.max(device.maxPullsInFlight, ++inFlight);
      try {
        await device.pullGate;
        return await base.pull(...args);
      } finally { inFlight--; }
    },
  });
  for (const m of ['createVault', 'getVaultKey', 'updateVaultKey', 'listVaults', 'deleteVault', 'push'] as const) {
    (counting as any)[m] = (base as any)[m].bind(base);
  }
  const client = HaexSyncClient.create({ transport: counting, supabase, deviceId: `device-${Math.random().toString(36).slice(2, 8)}` });
  device.vault = opts.create
    ? await client.createVault(opts.password, { vaultId: opts.vaultId })
    : await client.unlockVault(opts.vaultId, opts.password);
  device.dropSocket = () => {
    const conn = (supabase.realtime as any).socketAdapter?.socket?.conn as { terminate?: () => void } | undefined;
    conn?.terminate?.();
  };
  return device;
}

/** Starts live sync on the device, recording applied logs (cursor from 0). */
export function goLive(device: Device, checkIntervalMs = 30_000): LiveSync {
  device.live = device.vault.live({
    cursor: 0,
    checkIntervalMs,
    apply: (logs) => { for (const log of logs) device.applied.push({ sequence: log.sequence, data: log.data }); },
    onState: (state) => device.states.push(state),
  });
  return device.live;
}
