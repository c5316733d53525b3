/**
 * The rpc transport's push (issue 25, item 3) against a scripted PostgREST (no stack needed): it sends
 * the logs as columns to push_log_columns; a server without push_log_columns (PostgREST's PGRST202)
 * is pushed to through push_logs (JSON objects) from then on, with the same result; any other error
 * is the caller's, not a reason to switch.
 */
import { createClient } from '@supabase/supabase-js';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ForbiddenError } from '../src/errors.ts';
import { rpcTransport } from '../src/transport/rpc.ts';

const vaultId = '6f1c2a56-8d0e-4f57-9a4b-0c6a7e1d2b3c';
const logs = [
  { id: '0b7e3c1a-2f4d-4e5a-8b6c-9d0e1f2a3b4c', encryptedData: 'ZGF0YQ==', nonce: 'bm9uY2U=', haexTimestamp: 't1', recordKey: 'k1', keyGeneration: 2 },
  { id: '1c8f4d2b-3a5e-4f6b-9c7d-0e1f2a3b4c5d', encryptedData: 'ZGF0YTI=', nonce: 'bm9uY2Uy', haexTimestamp: 't2' },
];
const answer = { last_sequence: 7, results: [{ id: logs[0]!.id, sequence: 6, duplicate: false }, { id: logs[1]!.id, sequence: 7, duplicate: false }] };
const missing = { code: 'PGRST202', message: 'Could not find the function public.push_log_columns', details: null, hint: null };

function scripted(columns: 'present' | 'missing' | 'refusing') {
  const calls: Array<{ path: string; body: unknown }> = [];
  const fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    calls.push({ path: url.pathname, body: JSON.parse(String(init?.body ?? 'null')) });
    const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
    if (url.pathname.endsWith('/rpc/push_log_columns')) {
      if (columns === 'present') return json(200, answer);
      if (columns === 'missing') return json(404, missing);
      return json(403, { code: 'PT403', message: 'a reader may not push', details: 'vault_id', hint: null });
    }
    if (url.pathname.endsWith('/rpc/push_logs')) return json(200, answer);
    return json(404, { code: 'PGRST125', message: 'not scripted' });
  };
  const supabase = createClient('http://127.0.0.1:9', 'key', {
    global: { fetch: fetch as typeof globalThis.fetch }, auth: { persistSession: false, autoRefreshToken: false },
    realtime: { transport: WebSocket as never },
  });
  return { transport: rpcTransport(supabase), calls };
}

const result = { lastSequence: 7, logs: [{ id: logs[0]!.id, sequence: 6, duplicate: false }, { id: logs[1]!.id, sequence: 7, duplicate: false }] };

describe('rpc transport push', () => {
  it('sends the logs as columns to push_log_columns, log i at index i of every array', async () => {
    const { transport, calls } = scripted('present');
    expect(await transport.push(vaultId, logs)).toEqual(result);
    expect(calls).toEqual([{ path: '/rest/v1/rpc/push_log_columns', body: {
      vault_id: vaultId, ids: [logs[0]!.id, logs[1]!.id], encrypted_data: ['ZGF0YQ==', 'ZGF0YTI='], nonces: ['bm9uY2U=', 'bm9uY2Uy'],
      haex_timestamps: ['t1', 't2'], record_keys: ['k1', null], key_generations: [2, null],
    } }]);
  });

  it('falls back to push_logs once the server has no push_log_columns, and stays there', async () => {
    const { transport, calls } = scripted('missing');
    expect(await transport.push(vaultId, logs)).toEqual(result);
    expect(await transport.push(vaultId, logs)).toEqual(result);
    expect(calls.map((c) => c.path)).toEqual(['/rest/v1/rpc/push_log_columns', '/rest/v1/rpc/push_logs', '/rest/v1/rpc/push_logs']);
    expect(calls[1]!.body).toEqual({ vault_id: vaultId, logs: [
      { id: logs[0]!.id, encrypted_data: 'ZGF0YQ==', nonce: 'bm9uY2U=', haex_timestamp: 't1', device_id: null, record_key: 'k1', key_generation: 2 },
      { id: logs[1]!.id, encrypted_data: 'ZGF0YTI=', nonce: 'bm9uY2Uy', haex_timestamp: 't2', device_id: null, record_key: null, key_generation: null },
    ] });
  });

  it('does not fall back on any other refusal: the caller gets it, and the next push asks push_log_columns again', async () => {
    const { transport, calls } = scripted('refusing');
    await expect(transport.push(vaultId, logs)).rejects.toBeInstanceOf(ForbiddenError);
    await expect(transport.push(vaultId, logs)).rejects.toBeInstanceOf(ForbiddenError);
    expect(calls.map((c) => c.path)).toEqual(['/rest/v1/rpc/push_log_columns', '/rest/v1/rpc/push_log_columns']);
  });
});
