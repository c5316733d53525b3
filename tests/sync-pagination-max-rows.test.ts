/**
 * Pulls on a PostgREST with hosted Supabase's default `max_rows = 1000` (the shared test stack runs
 * 1001, as supabase/config.toml): `hasMore` and the cursor come from the database, so pages of 1,000
 * are exact under either cap, through POST /pull and through the pull_logs and pull_page rpcs alike. Runs on a
 * stack of its own with that cap, and first proves the cap is really in force.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureUser } from '../stack/users.ts';
import { startThrowawayStack } from './support/throwaway-stack.ts';

const TOTAL = 2000;
let stack: Awaited<ReturnType<typeof startThrowawayStack>>;
let call: (path: string, body: unknown) => Promise<{ status: number; body: any }>;
let rest: (path: string, body?: unknown, accept?: string) => Promise<{ status: number; body: any }>;
let vaultId: string;

beforeAll(async () => {
  stack = await startThrowawayStack({ quiet: true, config: { maxRows: 1000 } });
  const user = await ensureUser(stack.info.DB_URL, 'max-rows@test.haex.local', {
    jwtSecret: stack.info.JWT_SECRET, apiUrl: stack.info.API_URL, expiresInSeconds: 3600,
  });
  call = async (path, body) => {
    const res = await fetch(`${stack.info.API_URL}/functions/v1/sync${path}`, {
      method: 'POST', body: JSON.stringify(body),
      headers: { authorization: `Bearer ${user.access_token}`, 'content-type': 'application/json' },
    });
    return { status: res.status, body: await res.json() };
  };
  rest = async (path, body, accept?: string) => {
    const res = await fetch(`${stack.info.API_URL}/rest/v1${path}`, {
      method: body === undefined ? 'GET' : 'POST', body: body === undefined ? undefined : JSON.stringify(body),
      headers: { apikey: stack.info.ANON_KEY, authorization: `Bearer ${user.access_token}`, 'content-type': 'application/json',
        ...(accept ? { accept } : {}) },
    });
    return { status: res.status, body: await res.json() };
  };
  vaultId = randomUUID();
  const b64 = (n: number) => randomBytes(n).toString('base64');
  expect((await call('/vault-key', { vaultId, encryptedVaultKey: b64(60), salt: b64(32), nonce: b64(12) })).status).toBe(201);
  for (let start = 0; start < TOTAL; start += 1000) {
    const logs = Array.from({ length: 1000 }, (_, i) => ({ encryptedData: b64(24), nonce: b64(12), haexTimestamp: `t${start + i}` }));
    expect((await call('/push', { vaultId, logs })).status).toBe(200);
  }
});

afterAll(async () => { await stack?.dispose(); });

type Read = (after: number, limit: number) => Promise<{ sequences: number[]; hasMore: boolean; nextSequence: number }>;
const reads: Record<string, Read> = {
  'POST /pull': async (after, limit) => {
    const res = await call('/pull', { vaultId, afterSequence: after, limit });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return { sequences: res.body.logs.map((l: { sequence: number }) => l.sequence), hasMore: res.body.hasMore, nextSequence: res.body.nextSequence };
  },
  'rpc pull_logs': async (after, limit) => {
    const res = await rest('/rpc/pull_logs', { vault_id: vaultId, after_sequence: after, max_count: limit });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toHaveLength(1);
    return { sequences: res.body[0].logs.map((r: any) => r.sequence), hasMore: res.body[0].has_more,
      nextSequence: res.body[0].next_sequence };
  },
  // issue 25: the prebuilt page through PostgREST's media-type handler (one scalar: max_rows has nothing to cut)
  'rpc pull_page': async (after, limit) => {
    const res = await rest('/rpc/pull_page', { vault_id: vaultId, after_sequence: after, max_count: limit }, 'application/json');
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return { sequences: res.body.logs.map((r: any) => r.sequence), hasMore: res.body.hasMore, nextSequence: res.body.nextSequence };
  },
};

describe('pull under max_rows = 1000', () => {
  it('the cap is in force: a plain read of the vault\'s 2,000 logs stops at 1,000 rows', async () => {
    const res = await rest(`/sync_logs?select=sequence&vault_id=eq.${vaultId}`);
    expect(res.body).toHaveLength(1000);
  });

  it.each(Object.keys(reads).flatMap((name) => [
    [name, 1000, 0, [1000, 1000], [true, false]],   // the last page is exactly full: hasMore false on it
    [name, 999, 0, [999, 999, 2], [true, true, false]],
    [name, 1000, 500, [1000, 500], [true, false]],
  ] as const))('%s: limit %i after %i returns pages %j with hasMore %j', async (name, limit, after, sizes, more) => {
    let cursor: number = after;
    const pages: number[] = [];
    const hasMore: boolean[] = [];
    for (;;) {
      const page = await reads[name]!(cursor, limit);
      expect(page.sequences).toEqual(Array.from({ length: page.sequences.length }, (_, i) => cursor + 1 + i));
      pages.push(page.sequences.length);
      hasMore.push(page.hasMore);
      cursor = page.nextSequence;
      if (!page.hasMore) break;
    }
    expect(pages).toEqual(sizes);
    expect(hasMore).toEqual(more);
    expect(cursor).toBe(TOTAL);
  });
});
