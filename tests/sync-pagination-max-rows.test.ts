/**
 * `POST /pull` on a PostgREST with hosted Supabase's default `max_rows = 1000`: a page of 1,000 plus
 * the one row that tells `hasMore` does not fit under the cap, so the function takes its other read
 * shape (the vault with the page embedded). Runs on a stack of its own with that cap.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureUser } from '../stack/users.ts';
import { startThrowawayStack } from './support/throwaway-stack.ts';

const TOTAL = 2000;
let stack: Awaited<ReturnType<typeof startThrowawayStack>>;
let call: (path: string, body: unknown) => Promise<{ status: number; body: any }>;
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
  vaultId = randomUUID();
  const b64 = (n: number) => randomBytes(n).toString('base64');
  expect((await call('/vault-key', { vaultId, encryptedVaultKey: b64(60), salt: b64(32), nonce: b64(12) })).status).toBe(201);
  for (let start = 0; start < TOTAL; start += 1000) {
    const logs = Array.from({ length: 1000 }, (_, i) => ({ encryptedData: b64(24), nonce: b64(12), haexTimestamp: `t${start + i}` }));
    expect((await call('/push', { vaultId, logs })).status).toBe(200);
  }
});

afterAll(async () => { await stack?.dispose(); });

describe('pull under max_rows = 1000', () => {
  it.each([
    [1000, 0, [1000, 1000], [true, false]],   // the last page is exactly full: hasMore false on it
    [999, 0, [999, 999, 2], [true, true, false]],
    [1000, 500, [1000, 500], [true, false]],
  ])('limit %i after %i returns pages %j with hasMore %j', async (limit, after, sizes, more) => {
    let cursor = after;
    const pages: number[] = [];
    const hasMore: boolean[] = [];
    for (;;) {
      const res = await call('/pull', { vaultId, afterSequence: cursor, limit });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const seqs = res.body.logs.map((l: { sequence: number }) => l.sequence);
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => cursor + 1 + i));
      pages.push(seqs.length);
      hasMore.push(res.body.hasMore);
      cursor = res.body.nextSequence;
      if (!res.body.hasMore) break;
    }
    expect(pages).toEqual(sizes);
    expect(hasMore).toEqual(more);
    expect(cursor).toBe(TOTAL);
  });
});
