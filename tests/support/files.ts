/** Fixtures of the files tests: deterministic file bytes, signed-in clients, a service-role Storage client. */
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import WebSocket from 'ws';

/** `size` bytes that differ at every offset mod 251 and per seed. */
export const fileBytes = (size: number, seed = 0): Uint8Array<ArrayBuffer> => {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i + seed * 17 + (i / 251 | 0)) % 251;
  return out;
};

export function supabaseClient(url: string, key: string, fetchImpl?: typeof fetch): SupabaseClient {
  return createClient(url, key, {
    auth: { persistSession: false, autoRefreshToken: false }, realtime: { transport: WebSocket as never },
    ...(fetchImpl ? { global: { fetch: fetchImpl } } : {}),
  });
}
