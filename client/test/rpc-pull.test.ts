/**
 * The rpc transport's pull (issue 25) against a scripted PostgREST (no stack needed): it asks for
 * pull_page with `Accept: application/json` and hands the parsed page over as it is; a server without
 * pull_page (PostgREST's PGRST202) is read through pull_logs from then on, mapped as before.
 */
import { createClient } from '@supabase/supabase-js';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { rpcTransport } from '../src/transport/rpc.ts';

const vaultId = '6f1c2a56-8d0e-4f57-9a4b-0c6a7e1d2b3c';
const log = { vaultId, sequence: 1, id: '0b7e3c1a-2f4d-4e5a-8b6c-9d0e1f2a3b4c', authorId: null, deviceId: 'd', encryptedData: 'ZGF0YQ==',
  nonce: 'bm9uY2U=', haexTimestamp: 't1', createdAt: '2026-12-06T21:00:00.000000+00:00', recordKey: null, keyGeneration: 1 };
const page = { logs: [log], hasMore: false, nextSequence: 1, lastSequence: 1, compactedThrough: 0 };
const row = { logs: [{ vault_id: vaultId, sequence: 1, id: log.id, author_id: null, device_id: 'd', encrypted_data: 'ZGF0YQ==', nonce: 'bm9uY2U=',
  haex_timestamp: 't1', created_at: log.createdAt, record_key: null, key_generation: 1, wire: null }],
  has_more: false, next_sequence: 1, last_sequence: 1, compacted_through: 0 };

function scripted(hasPullPage: boolean) {
  const calls: Array<{ path: string; accept: string | null }> = [];
  const fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const accept = new Headers(init?.headers).get('accept');
    calls.push({ path: url.pathname, accept });
    const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
    if (url.pathname.endsWith('/rpc/pull_page')) {
      return hasPullPage ? json(200, page) : json(404, { code: 'PGRST202', message: 'Could not find the function public.pull_page', details: null, hint: null });
    }
    if (url.pathname.endsWith('/rpc/pull_logs')) return json(200, [row]);
    return json(404, { code: 'PGRST125', message: 'not scripted' });
  };
  const supabase = createClient('http://127.0.0.1:9', 'key', {
    global: { fetch: fetch as typeof globalThis.fetch }, auth: { persistSession: false, autoRefreshToken: false },
    realtime: { transport: WebSocket as never },
  });
  return { transport: rpcTransport(supabase), calls };
}

describe('rpc transport pull', () => {
  it('asks for pull_page with Accept: application/json and returns its parsed page as it is', async () => {
    const { transport, calls } = scripted(true);
    const result = await transport.pull(vaultId, 0, 1000);
    expect(calls).toEqual([{ path: '/rest/v1/rpc/pull_page', accept: 'application/json' }]);
    expect(result).toEqual(page);
  });

  it('falls back to pull_logs once the server has no pull_page, and stays there', async () => {
    const { transport, calls } = scripted(false);
    const expected = { logs: [{ id: log.id, sequence: 1, encryptedData: 'ZGF0YQ==', nonce: 'bm9uY2U=', haexTimestamp: 't1', deviceId: 'd',
      createdAt: log.createdAt, recordKey: null, keyGeneration: 1 }], hasMore: false, nextSequence: 1, lastSequence: 1, compactedThrough: 0 };
    expect(await transport.pull(vaultId, 0, 1000)).toEqual(expected);
    expect(await transport.pull(vaultId, 0, 1000)).toEqual(expected);
    expect(calls.map((c) => c.path)).toEqual(['/rest/v1/rpc/pull_page', '/rest/v1/rpc/pull_logs', '/rest/v1/rpc/pull_logs']);
  });
});
