/**
 * Edge Function `sync`: pagination over 2,500 logs pushed in batches through the function. Every
 * limit returns every log exactly once, in order, with a correct cursor and `hasMore` false only at
 * the end (also when the last page is exactly full).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { api, newUser, stack } from './support/stack.ts';
import type { StackUser } from '../stack/users.ts';

const F = '/functions/v1/sync';
const TOTAL = 2500;
let user: StackUser;
let vaultId: string;
const ids: string[] = [];

beforeAll(async () => {
  user = await newUser('pages');
  vaultId = randomUUID();
  const key = { encryptedVaultKey: randomBytes(60).toString('base64'), salt: randomBytes(16).toString('base64'), nonce: randomBytes(12).toString('base64') };
  expect((await api(`${F}/vault-key`, { token: user.access_token, body: { vaultId, ...key } })).status).toBe(201);
  for (let start = 0; start < TOTAL; start += 1000) {
    const logs = Array.from({ length: Math.min(1000, TOTAL - start) }, (_, i) => ({
      id: randomUUID(), encryptedData: randomBytes(32).toString('base64'), nonce: randomBytes(12).toString('base64'),
      haexTimestamp: `ts-${start + i}`, deviceId: i % 2 ? 'dev-a' : null,
    }));
    const res = await api(`${F}/push`, { token: user.access_token, body: { vaultId, logs } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.lastSequence).toBe(start + logs.length);
    ids.push(...logs.map((l) => l.id));
  }
});

async function pullAll(limit: number, maxPages = Infinity) {
  const seen: Array<{ id: string; sequence: number; haexTimestamp: string }> = [];
  let cursor = 0;
  let pages = 0;
  for (;;) {
    const res = await api(`${F}/pull`, { token: user.access_token, body: { vaultId, afterSequence: cursor, limit } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const { logs, hasMore, nextSequence } = res.body;
    expect(logs.length).toBeLessThanOrEqual(limit);
    expect(nextSequence).toBe(logs.length ? logs.at(-1).sequence : cursor);
    expect(res.body.lastSequence).toBe(TOTAL);
    seen.push(...logs);
    pages++;
    expect(hasMore).toBe(nextSequence < TOTAL);
    cursor = nextSequence;
    if (!hasMore || pages >= maxPages) return { seen, pages, cursor, hasMore };
  }
}

describe('pagination over 2,500 logs', () => {
  it.each([7, 100, 1000])('limit %i returns every log once, in order', async (limit) => {
    const { seen, pages, hasMore } = await pullAll(limit);
    expect(hasMore).toBe(false);
    expect(pages).toBe(Math.ceil(TOTAL / limit));
    expect(seen.map((l) => l.sequence)).toEqual(Array.from({ length: TOTAL }, (_, i) => i + 1));
    expect(seen.map((l) => l.id)).toEqual(ids);
    expect(seen[TOTAL - 1]!.haexTimestamp).toBe(`ts-${TOTAL - 1}`);
  });

  it('limit 1 walks a prefix one log at a time', async () => {
    const { seen, cursor, hasMore } = await pullAll(1, 30);
    expect(hasMore).toBe(true);
    expect(cursor).toBe(30);
    expect(seen.map((l) => l.id)).toEqual(ids.slice(0, 30));
  });

  it('hasMore is false on an exactly full last page (limit 500, and 1000 from 1500)', async () => {
    const full = await api(`${F}/pull`, { token: user.access_token, body: { vaultId, afterSequence: 1500, limit: 1000 } });
    expect(full.body.logs).toHaveLength(1000);
    expect(full.body).toMatchObject({ hasMore: false, nextSequence: 2500 });
    const { pages, hasMore } = await pullAll(500);
    expect(hasMore).toBe(false);
    expect(pages).toBe(5); // no extra empty page
  });

  it('the default limit is 100', async () => {
    const res = await api(`${F}/pull`, { token: user.access_token, body: { vaultId } });
    expect(res.body.logs).toHaveLength(100);
    expect(res.body).toMatchObject({ hasMore: true, nextSequence: 100 });
  });

  it('PostgREST answers the pull rpc in the shape the function passes through (one row: logs, then the state)', async () => {
    // functions/_shared/pull.ts pageOut
    const text = await (await fetch(`${stack.POSTGREST_URL}/rpc/pull_logs`, {
      method: 'POST', body: JSON.stringify({ vault_id: vaultId, after_sequence: 2497, max_count: 2 }),
      headers: { authorization: `Bearer ${user.access_token}`, 'content-type': 'application/json' },
    })).text();
    expect(text).toMatch(/^\[\{"logs":\[\{"vault_id":"/); // whole sync_logs rows, the table's column order
    expect(text).toMatch(/\],"has_more":true,"next_sequence":2499,"last_sequence":2500,"compacted_through":0\}\]$/);
    expect(JSON.parse(text)[0].logs.map((l: any) => l.sequence)).toEqual([2498, 2499]);
  });

  it('this stack runs max_rows 1001 (the other cap: sync-pagination-max-rows.test.ts)', async () => {
    const res = await fetch(`${stack.POSTGREST_URL}/sync_logs?select=sequence&vault_id=eq.${vaultId}`,
      { headers: { authorization: `Bearer ${user.access_token}` } });
    expect(await res.json()).toHaveLength(1001);
  });
});
