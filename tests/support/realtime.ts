/**
 * Realtime helpers for tests: supabase-js clients as a device would make them (Node 20 needs `ws`),
 * subscriptions that resolve on the first settled status, raw Phoenix sockets, and a poke collector.
 */
import { createClient, type RealtimeChannel, type SupabaseClient } from '@supabase/supabase-js';
import WebSocket from 'ws';
import { stack } from './stack.ts';

export type Vsn = '1.0.0' | '2.0.0';

/** A supabase-js client signed in with `token` (a function: asked at each setAuth; none: the anon key only). */
export function realtimeClient(token?: string | (() => string), options: { vsn?: Vsn; apiUrl?: string; anonKey?: string } = {}): SupabaseClient {
  return createClient(options.apiUrl ?? stack.API_URL, options.anonKey ?? stack.CLIENT_KEY, {
    auth: { persistSession: false, autoRefreshToken: false },
    ...(token ? { accessToken: async () => (typeof token === 'function' ? token() : token) } : {}),
    realtime: { transport: WebSocket as never, ...(options.vsn ? { vsn: options.vsn } : {}) },
  });
}

export interface Joined {
  channel: RealtimeChannel;
  status: string;
  error?: string;
  /** Every broadcast received on the channel, in order. */
  received: Array<{ event: string; payload: any; meta?: any }>;
  /** Every status after the first one (CLOSED, CHANNEL_ERROR...). */
  later: string[];
  system: any[];
}

/**
 * Subscribes to private `vault:<id>` and resolves with the first settled status. Like live.ts, it
 * first hands the client's token to Realtime (supabase-js fetches it asynchronously otherwise, and a
 * join sent before that goes out with the anon key).
 */
export async function joinVault(client: SupabaseClient, vaultId: string, config: Record<string, unknown> = {}): Promise<Joined> {
  await client.realtime.setAuth();
  const channel = client.channel(`vault:${vaultId}`, { config: { private: true, ...config } });
  const joined: Joined = { channel, status: 'pending', received: [], later: [], system: [] };
  channel.on('broadcast', { event: '*' }, (m) => joined.received.push(m as unknown as Joined['received'][number]));
  channel.on('system', {}, (m) => joined.system.push(m));
  return new Promise((resolve) => {
    channel.subscribe((status, error) => {
      if (joined.status === 'pending') {
        joined.status = status;
        joined.error = error?.message;
        resolve(joined);
      } else {
        joined.later.push(status);
      }
    });
  });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `check` holds (polling), failing with `what` after `timeoutMs`. */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** A raw Phoenix socket (no supabase-js) for frames supabase-js would never send. */
export async function rawSocket(query: string, apiUrl = stack.API_URL): Promise<{ ws: WebSocket; frames: unknown[]; send(m: unknown[]): void }> {
  const ws = new WebSocket(`${apiUrl.replace(/^http/, 'ws')}/realtime/v1/websocket?${query}`);
  const frames: unknown[] = [];
  ws.on('message', (data, isBinary) => frames.push(isBinary ? data : JSON.parse(String(data))));
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  return { ws, frames, send: (m) => ws.send(JSON.stringify(m)) };
}
