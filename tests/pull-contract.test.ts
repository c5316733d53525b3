/**
 * The pull contract (issue 10), through the gateway on both read paths a client has — the pull_logs
 * rpc (PostgREST) and POST /pull of the Edge Function — and in SQL:
 *   - pages are bounded in bytes (private.limits().max_pull_bytes) as well as rows, always with at
 *     least one log; pages of maximal logs stay under 16 MiB on the wire;
 *   - hasMore / nextSequence / lastSequence come from the database with the page, exact at every edge;
 *   - a cursor beyond the vault's last sequence is 409 cursor_ahead (PT409), not an empty page;
 *   - vault ids are never reused: a deleted id answers 409 vault_deleted, also after the owner's
 *     account is deleted, and a device still pulling it gets 404.
 * (The same contract under max_rows = 1000: tests/sync-pagination-max-rows.test.ts.)
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { StackUser } from '../stack/users.ts';
import { adminSql, api, asUser, newUser, rpc, stack } from './support/stack.ts';
import { createVault, entry, expectError } from './support/sql-fixtures.ts';

const F = '/functions/v1/sync';
const MAX_DATA = 524_288;
const SIXTEEN_MIB = 16 * 1024 * 1024;
const maximal = () => entry({ encrypted_data: randomBytes((MAX_DATA / 4) * 3).toString('base64'), nonce: 'n'.repeat(64),
  haex_timestamp: `t${randomUUID()}`.padEnd(128, 'x'), device_id: 'd'.repeat(128) });
const logBytes = MAX_DATA + 64 + 128 + 128;

let alice: StackUser;
let bob: StackUser;
let budget: number;

beforeAll(async () => {
  [alice, bob] = await Promise.all([newUser('alice'), newUser('bob')]);
  budget = Number((await adminSql()`select (private.limits()).max_pull_bytes as b`)[0]!.b);
});

/** POST with the raw answer text (its size is what a page costs on the wire). */
async function postRaw(path: string, body: unknown, token: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${stack.API_URL}${path}`, {
    method: 'POST', body: JSON.stringify(body),
    headers: { apikey: stack.ANON_KEY, authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
  });
  const text = await res.text();
  return { status: res.status, bytes: Buffer.byteLength(text), body: JSON.parse(text) };
}

interface Page { sequences: number[]; hasMore: boolean; nextSequence: number; lastSequence: number; bytes: number }
type Reader = (vaultId: string, after: number, limit: number) => Promise<Page>;

const readers: Record<string, Reader> = {
  'rpc pull_logs': async (vaultId, after, limit) => {
    const res = await postRaw('/rest/v1/rpc/pull_logs', { vault_id: vaultId, after_sequence: after, max_count: limit }, alice.access_token);
    expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
    const rows = res.body as Array<{ logs: Array<{ sequence: number }>; has_more: boolean; next_sequence: number; last_sequence: number }>;
    expect(rows).toHaveLength(1); // one page, its state once
    return { sequences: rows[0]!.logs.map((l) => l.sequence), hasMore: rows[0]!.has_more,
      nextSequence: rows[0]!.next_sequence, lastSequence: rows[0]!.last_sequence, bytes: res.bytes };
  },
  // issue 25: the prebuilt page, through PostgREST's media-type handler (needs the Accept header).
  'rpc pull_page': async (vaultId, after, limit) => {
    const res = await postRaw('/rest/v1/rpc/pull_page', { vault_id: vaultId, after_sequence: after, max_count: limit }, alice.access_token,
      { accept: 'application/json' });
    expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
    // The HTTP API's page itself (docs/http-api.md), as POST /pull sends it.
    return { sequences: res.body.logs.map((l: { sequence: number }) => l.sequence), hasMore: res.body.hasMore,
      nextSequence: res.body.nextSequence, lastSequence: res.body.lastSequence, bytes: res.bytes };
  },
  'POST /pull': async (vaultId, after, limit) => {
    const res = await postRaw(`${F}/pull`, { vaultId, afterSequence: after, limit }, alice.access_token);
    expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
    return { sequences: res.body.logs.map((l: { sequence: number }) => l.sequence), hasMore: res.body.hasMore,
      nextSequence: res.body.nextSequence, lastSequence: res.body.lastSequence, bytes: res.bytes };
  },
};

async function readAll(read: Reader, vaultId: string, limit: number) {
  const pages: Page[] = [];
  let cursor = 0;
  for (;;) {
    const page = await read(vaultId, cursor, limit);
    pages.push(page);
    expect(page.sequences).toEqual(Array.from({ length: page.sequences.length }, (_, i) => cursor + 1 + i));
    cursor = page.nextSequence;
    if (!page.hasMore) return { pages, cursor };
    expect(pages.length).toBeLessThan(10_000);
  }
}

describe('pages of maximal logs', () => {
  const COUNT = 40;
  let vaultId: string;

  beforeAll(async () => {
    ({ vault_id: vaultId } = await createVault(alice));
    for (let pushed = 0; pushed < COUNT; pushed += 20) {
      const res = await rpc('push_logs', { vault_id: vaultId, logs: Array.from({ length: 20 }, maximal) }, alice.access_token);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    }
  }, 120_000);

  it.each(Object.keys(readers))('%s: every page is at most the byte budget plus one log, under 16 MiB, and all arrive', async (name) => {
    const { pages, cursor } = await readAll(readers[name]!, vaultId, 1000);
    expect(cursor).toBe(COUNT);
    expect(pages.flatMap((p) => p.sequences)).toEqual(Array.from({ length: COUNT }, (_, i) => i + 1));
    const perPage = Math.ceil(budget / logBytes); // logs before the budget is reached, plus the one that crosses it
    expect(pages.map((p) => p.sequences.length)).toEqual(
      Array.from({ length: Math.ceil(COUNT / perPage) }, (_, i) => Math.min(perPage, COUNT - i * perPage)));
    for (const page of pages) {
      expect(page.sequences.length * logBytes).toBeLessThan(budget + logBytes);
      expect(page.bytes).toBeLessThan(SIXTEEN_MIB);
    }
    expect(pages.map((p) => p.hasMore)).toEqual(pages.map((_, i) => i < pages.length - 1));
  }, 60_000);
});

describe('hasMore and the next cursor come from the database', () => {
  let vaultId: string;
  beforeAll(async () => {
    ({ vault_id: vaultId } = await createVault(alice));
    const res = await rpc('push_logs', { vault_id: vaultId, logs: Array.from({ length: 30 }, () => entry()) }, alice.access_token);
    expect(res.status).toBe(200);
  });

  it.each(Object.keys(readers))('%s: exact at a full last page, a cut page, the end and an empty vault tail', async (name) => {
    const read = readers[name]!;
    expect(await read(vaultId, 20, 10)).toEqual(expect.objectContaining({ hasMore: false, nextSequence: 30, lastSequence: 30 }));
    expect(await read(vaultId, 19, 10)).toEqual(expect.objectContaining({ hasMore: true, nextSequence: 29, lastSequence: 30 }));
    expect(await read(vaultId, 0, 1000)).toEqual(expect.objectContaining({ hasMore: false, nextSequence: 30 }));
    expect(await read(vaultId, 30, 1000)).toEqual(expect.objectContaining({ sequences: [], hasMore: false, nextSequence: 30, lastSequence: 30 }));
  });

  it('a page without logs moves the cursor to last_sequence when the vault\'s tail holds no logs', async () => {
    // What compaction (issue 13) may leave: last_sequence beyond the last stored log. Set up by the
    // superuser in a rolled-back transaction, then read as the owner.
    const page = await asUser(alice, async (sql) => {
      await sql`reset role`;
      await sql`update public.vaults set last_sequence = 35 where id = ${vaultId}`;
      await sql`select set_config('role', 'authenticated', true)`;
      return sql`select (select array_agg(l.sequence::int) from unnest(p.logs) l) as sequences, p.last_sequence::int,
                        p.has_more, p.next_sequence::int from public.pull_logs(${vaultId}, 28, 1000) p`;
    });
    expect(page.map((r) => [r.sequences, r.last_sequence, r.has_more, r.next_sequence])).toEqual([[[29, 30], 35, false, 35]]);
    const empty = await asUser(alice, async (sql) => {
      await sql`reset role`;
      await sql`update public.vaults set last_sequence = 35 where id = ${vaultId}`;
      await sql`select set_config('role', 'authenticated', true)`;
      return sql`select cardinality(logs) as n, last_sequence::int, has_more, next_sequence::int from public.pull_logs(${vaultId}, 30, 1000)`;
    });
    // No row of nulls: one row, an empty logs array, the cursor moved to the end.
    expect(empty.map((r) => [r.n, r.last_sequence, r.has_more, r.next_sequence])).toEqual([[0, 35, false, 35]]);
    // pull_page (issue 25) the same.
    const pages = await asUser(alice, async (sql) => {
      await sql`reset role`;
      await sql`update public.vaults set last_sequence = 35 where id = ${vaultId}`;
      await sql`select set_config('role', 'authenticated', true)`;
      const read = async (after: number) => {
        const page = JSON.parse((await sql`select public.pull_page(${vaultId}, ${after}, 1000)::text as p`)[0]!.p as string);
        return [page.logs.map((l: { sequence: number }) => l.sequence), page.lastSequence, page.hasMore, page.nextSequence];
      };
      return [await read(28), await read(30)];
    });
    expect(pages).toEqual([[[29, 30], 35, false, 35], [[], 35, false, 35]]);
  });

  it('always at least one log: with a budget of 1 byte every page holds exactly one', async () => {
    const pages = await asUser(alice, async (sql) => {
      await sql`reset role`;
      const [{ limits }] = await sql`select to_jsonb(private.limits()) as limits` as unknown as [{ limits: Record<string, number> }];
      await sql.unsafe(`create or replace function private.limits() returns private.limit_set
        language sql immutable parallel safe set search_path = '' as $$
          select jsonb_populate_record(null::private.limit_set, '${JSON.stringify({ ...limits, max_pull_bytes: 1 })}'::jsonb) $$`);
      await sql`select set_config('role', 'authenticated', true)`;
      const out: number[][] = [];
      for (let cursor = 0; cursor < 30;) {
        const rows = await sql`select (select array_agg(l.sequence::int) from unnest(p.logs) l) as sequences, p.has_more,
                                      p.next_sequence::int from public.pull_logs(${vaultId}, ${cursor}, 1000) p`;
        expect(rows).toHaveLength(1);
        out.push(rows[0]!.sequences);
        cursor = rows[0]!.next_sequence;
      }
      return out;
    });
    expect(pages).toEqual(Array.from({ length: 30 }, (_, i) => [i + 1]));
  });

  it('stays exact while pushes commit between pages (state and page from one snapshot)', async () => {
    const { vault_id } = await createVault(alice);
    let pushing = true;
    const pusher = (async () => {
      for (let i = 0; pushing && i < 200; i++) {
        expect((await rpc('push_logs', { vault_id, logs: [entry(), entry()] }, alice.access_token)).status).toBe(200);
      }
    })();
    const violations: string[] = [];
    let cursor = 0;
    for (let i = 0; i < 150; i++) {
      const page = await readers[i % 2 === 0 ? 'rpc pull_logs' : 'rpc pull_page']!(vault_id, cursor, 3);
      const last = page.sequences.at(-1) ?? cursor;
      if (page.nextSequence !== (page.hasMore ? last : page.lastSequence) || page.hasMore !== page.nextSequence < page.lastSequence
        || last !== page.nextSequence || page.sequences.length < Math.min(3, page.lastSequence - cursor)) {
        violations.push(JSON.stringify({ cursor, ...page }));
      }
      cursor = page.nextSequence;
    }
    pushing = false;
    await pusher;
    expect(violations).toEqual([]);
  });
});

describe('cursor beyond the vault', () => {
  it('is 409 cursor_ahead (PT409, hint cursor_ahead) on both paths; the last sequence itself is fine', async () => {
    const { vault_id } = await createVault(alice);
    expect((await rpc('push_logs', { vault_id, logs: [entry(), entry()] }, alice.access_token)).status).toBe(200);
    const sql = await rpc('pull_logs', { vault_id, after_sequence: 3, max_count: 10 }, alice.access_token);
    expectError(sql, 409, 'PT409', 'after_sequence');
    expect(sql.body.hint).toBe('cursor_ahead');
    const http = await api(`${F}/pull`, { token: alice.access_token, body: { vaultId: vault_id, afterSequence: 3 } });
    expect([http.status, http.body.error.code, http.body.error.details]).toEqual([409, 'cursor_ahead', 'afterSequence']);
    expect((await rpc('pull_logs', { vault_id, after_sequence: 2, max_count: 10 }, alice.access_token)).status).toBe(200);
    const page = await rpc('pull_page', { vault_id, after_sequence: 3, max_count: 10 }, alice.access_token);
    expectError(page, 409, 'PT409', 'after_sequence');
    expect(page.body.hint).toBe('cursor_ahead');
  });
});

describe('pull_page: the page built at push (issue 25)', () => {
  /** Both pages of a vault, with pull_logs' rows as PostgREST sends them, and pull_page's as it sends its text. */
  const both = async (vaultId: string, token = alice.access_token) => {
    const logs = await postRaw('/rest/v1/rpc/pull_logs', { vault_id: vaultId, after_sequence: 0, max_count: 1000 }, token);
    const page = await postRaw('/rest/v1/rpc/pull_page', { vault_id: vaultId, after_sequence: 0, max_count: 1000 }, token,
      { accept: 'application/json' });
    expect([logs.status, page.status]).toEqual([200, 200]);
    // pull_logs' row with its keys in camelCase is what pull_page sends (the HTTP API's page);
    // createdAt: the same instant (pull_page's text always has 6 fraction digits; PostgreSQL's trims zeros).
    const camel = (k: string) => k.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
    const fromLogs = (logs.body as Array<Record<string, unknown>>).map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) =>
      [camel(k), k !== 'logs' ? v : (v as Array<Record<string, unknown>>).map(({ wire: _wire, ...log }) =>
        Object.fromEntries(Object.entries(log).map(([lk, lv]) => [camel(lk), lk === 'created_at' ? Date.parse(lv as string) : lv])))])));
    expect(fromLogs).toHaveLength(1);
    const fromPage = { ...page.body, logs: page.body.logs.map((log: Record<string, unknown>) => ({ ...log, createdAt: Date.parse(log.createdAt as string) })) };
    return { fromLogs: fromLogs[0], fromPage, raw: logs.body };
  };

  it('is field for field the page pull_logs returns: for pushed logs, for a deleted author, and for logs stored before (fallback, then backfill)', async () => {
    const carol = await newUser('carol');
    const { vault_id } = await createVault(carol);
    const odd = entry({ nonce: 'n"\\\u0001é', haex_timestamp: 't "quoted" \u2028', device_id: 'd' });
    expect((await rpc('push_logs', { vault_id, logs: [entry({ record_key: 'k_1-' }), odd, entry()] }, carol.access_token)).status).toBe(200);
    let { fromLogs, fromPage, raw } = await both(vault_id, carol.access_token);
    expect(fromPage).toEqual(fromLogs);
    expect(fromPage.logs).toHaveLength(3);
    expect(Object.keys(fromPage.logs[0])).toEqual(['vaultId', 'sequence', 'id', 'authorId', 'deviceId', 'encryptedData', 'nonce',
      'haexTimestamp', 'createdAt', 'recordKey', 'keyGeneration']);
    // pull_logs leaves wire out of its rows (null), so its page does not carry every log twice.
    expect(raw[0].logs[0].wire).toBeNull();
    // Logs stored before issue 25: no wire (the update sets it, so the trigger leaves it alone).
    const admin = adminSql();
    await admin`update public.sync_logs set wire = null where vault_id = ${vault_id}`;
    expect((await admin`select count(*)::int as n from public.sync_logs where vault_id = ${vault_id} and wire is null`)[0]!.n).toBe(3);
    ({ fromLogs, fromPage } = await both(vault_id, carol.access_token));
    expect(fromPage).toEqual(fromLogs);
    // The backfill, batch after batch from the start of the table, until it says done: nothing is left without wire.
    let cursor: { last_vault_id: string | null; last_sequence: string | null } = { last_vault_id: null, last_sequence: null };
    let calls = 0;
    do {
      [cursor] = await admin`select * from private.backfill_log_wire(${cursor.last_vault_id}, ${cursor.last_sequence}, 5000)` as any;
      calls++;
    } while (cursor.last_vault_id !== null && calls < 10_000);
    expect((await admin`select count(*)::int as n from public.sync_logs where wire is null`)[0]!.n).toBe(0);
    ({ fromLogs, fromPage } = await both(vault_id, carol.access_token));
    expect(fromPage).toEqual(fromLogs);
    // Deleting a member's account sets author_id null: the trigger rewrites the stored wire with it.
    const bobVault = await createVault(bob);
    await admin`insert into public.vault_members (vault_id, user_id, role) values (${bobVault.vault_id}, ${carol.id}, 'writer')`;
    expect((await rpc('push_logs', { vault_id: bobVault.vault_id, logs: [entry()] }, carol.access_token)).status).toBe(200);
    await admin`delete from auth.users where id = ${carol.id}`;
    ({ fromLogs, fromPage } = await both(bobVault.vault_id, bob.access_token));
    expect(fromPage.logs[0]!.authorId).toBeNull();
    expect(fromPage).toEqual(fromLogs);
  });

  it('answers 404 to a non-member and 401 without a user, as pull_logs does', async () => {
    const { vault_id } = await createVault(alice);
    expect((await rpc('push_logs', { vault_id, logs: [entry()] }, alice.access_token)).status).toBe(200);
    expectError(await rpc('pull_page', { vault_id, after_sequence: 0, max_count: 10 }, bob.access_token), 404, 'PT404', 'vault_id');
    expectError(await rpc('pull_page', { vault_id, after_sequence: 0, max_count: 0 }, alice.access_token), 400, 'PT400', 'max_count');
    expectError(await rpc('pull_page', { vault_id, after_sequence: -1, max_count: 10 }, alice.access_token), 400, 'PT400', 'after_sequence');
    const anon = await rpc('pull_page', { vault_id, after_sequence: 0, max_count: 10 });
    expect(anon.status).toBe(401);
  });
});

describe('vault ids are never reused', () => {
  it('a deleted id answers 409 vault_deleted to its owner and to anyone else, on both paths', async () => {
    const { vault_id } = await createVault(alice);
    expect((await rpc('delete_vault', { vault_id }, alice.access_token)).status).toBe(204);
    const key = { encrypted_vault_key: 'a2V5', salt: 'c2FsdA==', nonce: 'bm9uY2U=' };
    for (const user of [alice, bob]) {
      const res = await rpc('create_vault', { vault_id, ...key }, user.access_token);
      expectError(res, 409, 'PT409', 'vault_id');
      expect(res.body.hint).toBe('vault_deleted');
      const http = await api(`${F}/vault-key`, { token: user.access_token, body: { vaultId: vault_id, encryptedVaultKey: 'a2V5', salt: 'c2FsdA==', nonce: 'bm9uY2U=' } });
      expect([http.status, http.body.error.code]).toEqual([409, 'vault_deleted']);
    }
    expect((await adminSql()`select count(*)::int as n from public.vaults where id = ${vault_id}`)[0]!.n).toBe(0);
  });

  it('a device still pulling the deleted vault gets 404, not an empty vault', async () => {
    const { vault_id } = await createVault(alice);
    expect((await rpc('push_logs', { vault_id, logs: [entry()] }, alice.access_token)).status).toBe(200);
    expect((await rpc('delete_vault', { vault_id }, alice.access_token)).status).toBe(204);
    expectError(await rpc('pull_logs', { vault_id, after_sequence: 1, max_count: 10 }, alice.access_token), 404, 'PT404', 'vault_id');
    const http = await api(`${F}/pull`, { token: alice.access_token, body: { vaultId: vault_id, afterSequence: 1 } });
    expect([http.status, http.body.error.code]).toEqual([404, 'not_found']);
  });

  it('deleting the owner\'s account (cascade) leaves tombstones too', async () => {
    const carol = await newUser('carol');
    const { vault_id } = await createVault(carol);
    await adminSql()`delete from auth.users where id = ${carol.id}`;
    const res = await rpc('create_vault', { vault_id, encrypted_vault_key: 'a2V5', salt: 'c2FsdA==', nonce: 'bm9uY2U=' }, bob.access_token);
    expectError(res, 409, 'PT409', 'vault_id');
    expect(res.body.hint).toBe('vault_deleted');
  });
});
