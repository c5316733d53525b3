/**
 * supabase-js clients for the Auth tests: the pinned @supabase/supabase-js and the newest 2.x
 * (installed by the test setup: tests/support/supabase-js-latest.ts), each unmodified, against the
 * shared stack or any other.
 */
import { pathToFileURL } from 'node:url';
import { createClient as createPinned, type SupabaseClient } from '@supabase/supabase-js';
import WebSocket from 'ws';
import { stack } from './stack.ts';
import { LATEST_ENTRY } from './supabase-js-latest.ts';

const { createClient: createLatest } = await import(pathToFileURL(LATEST_ENTRY).href) as { createClient: unknown };

export const SUPABASE_JS_VERSIONS = [
  ['pinned', createPinned],
  ['latest', createLatest as unknown as typeof createPinned],
] as const;

export type CreateClient = typeof createPinned;

export interface ClientOptions {
  url?: string;
  key?: string;
  create?: CreateClient;
  autoRefreshToken?: boolean;
}

/** A client as an app makes it: session kept in memory, no automatic refresh unless asked. */
export function authClient(options: ClientOptions = {}): SupabaseClient {
  const create = options.create ?? createPinned;
  return create(options.url ?? stack.API_URL, options.key ?? stack.CLIENT_KEY, {
    auth: { persistSession: false, autoRefreshToken: options.autoRefreshToken ?? false, detectSessionInUrl: false },
    // Node 20 has no global WebSocket; supabase-js needs one for its realtime client.
    realtime: { transport: WebSocket as never },
  });
}

export const adminClient = (options: ClientOptions = {}) => authClient({ ...options, key: options.key ?? stack.SERVICE_ROLE_KEY });

export const newEmail = (label = 'auth') => `${label}-${crypto.randomUUID()}@test.haex.local`;

/** A password no test shares, so a scan for it finds only what this test stored. */
export const newPassword = () => `pw-${crypto.randomUUID()}`;

/** A raw request to /auth/v1, GoTrue's wire format as it is, with or without the API version header. */
export async function authHttp(path: string, init: {
  method?: string; body?: unknown; token?: string; apikey?: string; apiVersion?: string | null; url?: string;
} = {}) {
  const headers: Record<string, string> = { apikey: init.apikey ?? stack.CLIENT_KEY };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.apiVersion !== null) headers['x-supabase-api-version'] = init.apiVersion ?? '2024-01-01';
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${init.url ?? stack.API_URL}/auth/v1${path}`, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'), headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : null };
}
