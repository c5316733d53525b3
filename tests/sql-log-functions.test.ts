/**
 * The SQL API's log functions (push_logs, pull_logs): every happy path and every error, through the
 * gateway as supabase-js calls them, asserting status, SQLSTATE and detail; and the functions in SQL
 * as PostgREST runs them (role `authenticated` + JWT claims).
 */
import { randomUUID } from 'node:crypto';
import { createClient } from '@supabase/supabase-js';
import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Database } from '../client/src/database.types.ts';
import { signJwt } from '../stack/jwt.ts';
import type { StackUser } from '../stack/users.ts';
import { adminSql, api, asUser, newUser, rpc, stack } from './support/stack.ts';
import { b64, b64chars, createVault, deviceIdOf, entry, expectError, type KeyRow, newKey, type PushResult, vaultState } from './support/sql-fixtures.ts';

let alice: StackUser;
let bob: StackUser;

beforeAll(async () => {
  [alice, bob] = await Promise.all([newUser('alice'), newUser('bob')]);
});

describe('push_logs', () => {
  it('numbers new logs 1, 2, 3, ... in input order and stores them as sent, device_id being the session\'s device', async () => {
    const { vault_id } = await createVault(alice);
    const logs = [entry(), entry({ device_id: null }), entry()];
    const res = await rpc<PushResult>('push_logs', { vault_id, logs }, alice.access_token);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      last_sequence: 3,
      results: logs.map((l, i) => ({ id: l.id, sequence: i + 1, duplicate: false })),
    });
    const { vault, logs: stored } = await vaultState(vault_id);
    expect(vault!.last_sequence).toBe(3);
    const device = await deviceIdOf(alice);
    expect(device).toBeDefined();
    expect(stored).toEqual(logs.map((l, i) => ({
      sequence: i + 1, id: l.id, author_id: alice.id, device_id: device, encrypted_data: l.encrypted_data,
      nonce: l.nonce, haex_timestamp: l.haex_timestamp,
    })));

    const more = await rpc<PushResult>('push_logs', { vault_id, logs: [entry()] }, alice.access_token);
    expect(more.body.last_sequence).toBe(4);
    expect(more.body.results[0]!.sequence).toBe(4);
  });

  it('generates an id when none (or null) is given; device_id may be left out (the server sets it)', async () => {
    const { vault_id } = await createVault(alice);
    const { id: _id, device_id: _d, ...noId } = entry();
    const res = await rpc<PushResult>('push_logs', { vault_id, logs: [noId, { ...noId, id: null }] }, alice.access_token);
    expect(res.status).toBe(200);
    const ids = res.body.results.map((r) => r.id);
    expect(ids[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(2);
    const { logs } = await vaultState(vault_id);
    const device = await deviceIdOf(alice);
    expect(logs.map((l) => [l.id, l.device_id])).toEqual([[ids[0], device], [ids[1], device]]);
  });

  it('is idempotent by id: a retry stores nothing and reports the original sequences', async () => {
    const { vault_id } = await createVault(alice);
    const logs = [entry(), entry()];
    const first = await rpc<PushResult>('push_logs', { vault_id, logs }, alice.access_token);
    const fresh = entry();
    const retry = await rpc<PushResult>('push_logs', { vault_id, logs: [...logs, fresh] }, alice.access_token);
    expect(retry.body).toEqual({
      last_sequence: 3,
      results: [
        { id: logs[0]!.id, sequence: 1, duplicate: true },
        { id: logs[1]!.id, sequence: 2, duplicate: true },
        { id: fresh.id, sequence: 3, duplicate: false },
      ],
    });
    expect(first.body.last_sequence).toBe(2);
    const all = await rpc<PushResult>('push_logs', { vault_id, logs }, alice.access_token);
    expect(all.body.last_sequence).toBe(3);
    expect(all.body.results.every((r) => r.duplicate)).toBe(true);
    expect((await vaultState(vault_id)).logs).toHaveLength(3);
  });

  it('treats an id repeated within one batch as a duplicate of its first occurrence', async () => {
    const { vault_id } = await createVault(alice);
    const a = entry();
    const b = entry();
    const res = await rpc<PushResult>('push_logs', { vault_id, logs: [a, b, { ...a, encrypted_data: b64(9) }, a] }, alice.access_token);
    expect(res.body).toEqual({
      last_sequence: 2,
      results: [
        { id: a.id, sequence: 1, duplicate: false },
        { id: b.id, sequence: 2, duplicate: false },
        { id: a.id, sequence: 1, duplicate: true },
        { id: a.id, sequence: 1, duplicate: true },
      ],
    });
    const { logs } = await vaultState(vault_id);
    expect(logs.map((l) => l.encrypted_data)).toEqual([a.encrypted_data, b.encrypted_data]);
  });

  it('keeps last_sequence and bytes on the vault in step with the logs', async () => {
    const { vault_id } = await createVault(alice);
    await rpc('push_logs', { vault_id, logs: [entry(), entry()] }, alice.access_token);
    await rpc('push_logs', { vault_id, logs: [entry()] }, alice.access_token);
    const [row] = await adminSql()`select v.last_sequence::int, v.bytes::int,
        (select count(*)::int from public.sync_logs l where l.vault_id = v.id) as count,
        (select sum(octet_length(encrypted_data) + octet_length(nonce) + octet_length(haex_timestamp))::int
           from public.sync_logs l where l.vault_id = v.id) as sum
      from public.vaults v where v.id = ${vault_id}`;
    expect(row).toEqual({ last_sequence: 3, count: 3, bytes: row!.sum, sum: row!.sum });
  });

  it('accepts values exactly at their limits', async () => {
    const { vault_id } = await createVault(alice);
    const res = await rpc<PushResult>('push_logs', {
      vault_id,
      logs: [entry({ encrypted_data: b64chars(524288), nonce: 'n'.repeat(64), haex_timestamp: 't'.repeat(128), device_id: 'd'.repeat(128) })],
    }, alice.access_token);
    expect(res.status).toBe(200);
    const many = await rpc<PushResult>('push_logs', { vault_id, logs: Array.from({ length: 1000 }, () => entry()) }, alice.access_token);
    expect(many.status).toBe(200);
    expect(many.body.last_sequence).toBe(1001);
  });

  const invalid: [string, () => unknown, number, string, string][] = [
    ['logs is an object', () => ({ encrypted_data: 'AAAA' }), 400, 'PT400', 'logs'],
    ['logs is a string', () => JSON.stringify([entry()]), 400, 'PT400', 'logs'],
    ['logs is null', () => null, 400, 'PT400', 'logs'],
    ['logs is empty', () => [], 400, 'PT400', 'logs'],
    ['logs has 1001 entries', () => Array.from({ length: 1001 }, () => entry()), 413, 'PT413', 'logs'],
    ['an entry is not an object', () => [entry(), 'x'], 400, 'PT400', 'logs[1]'],
    ['an entry is null', () => [entry(), null], 400, 'PT400', 'logs[1]'],
    ['id is not a uuid', () => [entry(), entry({ id: 'abc' })], 400, 'PT400', 'logs[1].id'],
    ['id is a number', () => [entry(), entry({ id: 7 })], 400, 'PT400', 'logs[1].id'],
    ['encrypted_data is missing', () => [entry(), entry({ encrypted_data: undefined })], 400, 'PT400', 'logs[1].encrypted_data'],
    ['encrypted_data is empty', () => [entry(), entry({ encrypted_data: '' })], 400, 'PT400', 'logs[1].encrypted_data'],
    ['encrypted_data is not base64', () => [entry(), entry({ encrypted_data: 'ab$d' })], 400, 'PT400', 'logs[1].encrypted_data'],
    ['encrypted_data lacks padding', () => [entry(), entry({ encrypted_data: 'AAAAA' })], 400, 'PT400', 'logs[1].encrypted_data'],
    ['encrypted_data is a number', () => [entry(), entry({ encrypted_data: 1234 })], 400, 'PT400', 'logs[1].encrypted_data'],
    ['encrypted_data is over 512 KiB', () => [entry(), entry({ encrypted_data: b64chars(524292) })], 413, 'PT413', 'logs[1].encrypted_data'],
    ['nonce is empty', () => [entry(), entry({ nonce: '' })], 400, 'PT400', 'logs[1].nonce'],
    ['nonce is missing', () => [entry(), entry({ nonce: undefined })], 400, 'PT400', 'logs[1].nonce'],
    ['nonce is over 64 characters', () => [entry(), entry({ nonce: 'n'.repeat(65) })], 400, 'PT400', 'logs[1].nonce'],
    ['haex_timestamp is missing', () => [entry(), entry({ haex_timestamp: undefined })], 400, 'PT400', 'logs[1].haex_timestamp'],
    ['haex_timestamp is over 128 characters', () => [entry(), entry({ haex_timestamp: 't'.repeat(129) })], 400, 'PT400', 'logs[1].haex_timestamp'],
    ['device_id is over 128 characters', () => [entry(), entry({ device_id: 'd'.repeat(129) })], 400, 'PT400', 'logs[1].device_id'],
    ['device_id is a number', () => [entry(), entry({ device_id: 3 })], 400, 'PT400', 'logs[1].device_id'],
    ['the first of several invalid entries is reported', () => [entry(), entry(), entry({ nonce: '' }), entry({ id: 'x' })], 400, 'PT400', 'logs[2].nonce'],
    ['encrypted_data totals over 16 MiB', () => Array.from({ length: 33 }, () => entry({ encrypted_data: b64chars(524288) })), 413, 'PT413', 'logs'],
  ];
  it.each(invalid)('rejects a push where %s, storing nothing', async (_name, logs, status, code, details) => {
    const { vault_id } = await createVault(alice);
    await rpc('push_logs', { vault_id, logs: [entry()] }, alice.access_token);
    const before = await vaultState(vault_id);
    const res = await rpc('push_logs', { vault_id, logs: logs() }, alice.access_token);
    expectError(res, status, code, details);
    expect(res.body.message.startsWith(`${details} `) || res.body.message.startsWith(`${details}:`)).toBe(true);
    expect(await vaultState(vault_id)).toEqual(before);
  });

  it('rejects a null vault_id (400 PT400)', async () => {
    expectError(await rpc('push_logs', { vault_id: null, logs: [entry()] }, alice.access_token), 400, 'PT400', 'vault_id');
  });

  it('answers an unknown vault and another user\'s vault identically (404 PT404), storing nothing', async () => {
    const { vault_id } = await createVault(alice);
    const before = await vaultState(vault_id);
    const foreign = await rpc('push_logs', { vault_id, logs: [entry()] }, bob.access_token);
    const unknown = await rpc('push_logs', { vault_id: randomUUID(), logs: [entry()] }, bob.access_token);
    expectError(foreign, 404, 'PT404', 'vault_id');
    expect(foreign.body).toEqual(unknown.body);
    expect(await vaultState(vault_id)).toEqual(before);
  });
});

const userClient = (user: StackUser) => createClient<Database>(stack.API_URL, stack.ANON_KEY, {
  global: { headers: { Authorization: `Bearer ${user.access_token}` } }, auth: { persistSession: false, autoRefreshToken: false },
  realtime: { transport: WebSocket as never },
});

describe('pull_logs', () => {
  let vaultId: string;
  let pushed: ReturnType<typeof entry>[];

  beforeAll(async () => {
    ({ vault_id: vaultId } = await createVault(alice));
    pushed = Array.from({ length: 250 }, () => entry());
    const res = await rpc('push_logs', { vault_id: vaultId, logs: pushed }, alice.access_token);
    expect(res.status).toBe(200);
  });

  it('answers one row: the logs after the cursor in sequence order (at most max_count) and the page state once', async () => {
    const res = await rpc('pull_logs', { vault_id: vaultId, after_sequence: 10, max_count: 5 }, alice.access_token);
    expect(res.status).toBe(200);
    expect(res.body).toHaveLength(1);
    const page = res.body[0];
    expect(Object.keys(page)).toEqual(['logs', 'has_more', 'next_sequence', 'last_sequence', 'compacted_through']);
    expect(page).toMatchObject({ last_sequence: 250, has_more: true, next_sequence: 15, compacted_through: 0 });
    expect(page.logs.map((r: any) => r.sequence)).toEqual([11, 12, 13, 14, 15]);
    // Each log is a whole sync_logs row (the table's row type, so its generated type is the table's Row).
    expect(Object.keys(page.logs[0]).sort()).toEqual(['author_id', 'created_at', 'device_id', 'encrypted_data',
      'haex_timestamp', 'id', 'key_generation', 'nonce', 'record_key', 'sequence', 'vault_id', 'wire']);
    const sent = pushed[10]!;
    // wire (issue 25) is what pull_page sends: left out here (null), or every page would carry each log twice.
    expect(page.logs[0]).toMatchObject({ id: sent.id, encrypted_data: sent.encrypted_data, nonce: sent.nonce,
      haex_timestamp: sent.haex_timestamp, device_id: await deviceIdOf(alice), vault_id: vaultId, author_id: alice.id, record_key: null,
      wire: null });
  });

  it('defaults to after_sequence 0 and max_count 100; GET works too', async () => {
    const res = await rpc('pull_logs', { vault_id: vaultId }, alice.access_token);
    expect(res.body[0].logs.map((r: any) => r.sequence)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    const get = await api(`/rest/v1/rpc/pull_logs?vault_id=${vaultId}&after_sequence=240`, { token: alice.access_token });
    expect(get.status).toBe(200);
    expect(get.body[0].logs.map((r: any) => r.sequence)).toEqual([241, 242, 243, 244, 245, 246, 247, 248, 249, 250]);
  });

  it('pages through everything with max_count 1000; at the end, the page has an empty logs array and no row of nulls', async () => {
    const all = await rpc('pull_logs', { vault_id: vaultId, after_sequence: 0, max_count: 1000 }, alice.access_token);
    expect(all.body).toHaveLength(1);
    expect(all.body[0].logs.map((r: any) => r.id)).toEqual(pushed.map((p) => p.id));
    expect(all.body[0]).toMatchObject({ last_sequence: 250, has_more: false, next_sequence: 250 });
    const end = await rpc('pull_logs', { vault_id: vaultId, after_sequence: 250, max_count: 1000 }, alice.access_token);
    expect(end).toEqual(expect.objectContaining({ status: 200, body: [{
      logs: [], has_more: false, next_sequence: 250, last_sequence: 250, compacted_through: 0,
    }] }));
  });

  it('supabase-js gets the page as one object with .single(), typed by the generated types', async () => {
    const client = userClient(alice);
    const { data, error } = await client.rpc('pull_logs', { vault_id: vaultId, after_sequence: 248, max_count: 1000 }).single();
    expect(error).toBeNull();
    const page: { logs: Array<{ sequence: number; device_id: string | null }>; has_more: boolean } = data!;
    expect([page.logs.map((l) => l.sequence), page.has_more]).toEqual([[249, 250], false]);
    const empty = await client.rpc('pull_logs', { vault_id: vaultId, after_sequence: 250 }).single();
    expect(empty.data!.logs.map((l) => l.sequence)).toEqual([]); // maps fine: no row of nulls
  });

  it.each([
    ['max_count 0', { max_count: 0 }, 'max_count'],
    ['max_count 1001', { max_count: 1001 }, 'max_count'],
    ['max_count null', { max_count: null }, 'max_count'],
    ['after_sequence -1', { after_sequence: -1 }, 'after_sequence'],
    ['after_sequence null', { after_sequence: null }, 'after_sequence'],
    ['vault_id null', { vault_id: null }, 'vault_id'],
  ])('rejects %s (400 PT400)', async (_name, override, field) => {
    const res = await rpc('pull_logs', { vault_id: vaultId, after_sequence: 0, max_count: 10, ...override }, alice.access_token);
    expectError(res, 400, 'PT400', field);
  });

  it('gives another user\'s vault exactly what an unknown vault gives: 404 PT404', async () => {
    const foreign = await rpc('pull_logs', { vault_id: vaultId, after_sequence: 0, max_count: 1000 }, bob.access_token);
    const unknown = await rpc('pull_logs', { vault_id: randomUUID(), after_sequence: 0, max_count: 1000 }, bob.access_token);
    expectError(foreign, 404, 'PT404', 'vault_id');
    expect(foreign.body).toEqual(unknown.body);
  });
});

describe('in SQL, as PostgREST runs the functions (role authenticated + claims)', () => {
  it('create, push, pull, list, get, update and delete', async () => {
    const vault_id = randomUUID();
    const key = newKey();
    await asUser(alice, async (sql) => {
      const [created] = await sql`select * from public.create_vault(${vault_id}, ${key.encrypted_vault_key}, ${key.salt}, ${key.nonce})`;
      expect(created).toMatchObject({ vault_id, ...key });
      const logs = [entry(), entry()];
      const { push_logs: pushed } = (await sql<{ push_logs: PushResult }[]>`select public.push_logs(${vault_id}, ${sql.json(logs)}) as push_logs`)[0]!;
      expect(pushed.last_sequence).toBe(2);
      const pulled = await sql`select l.id, l.sequence::int from public.pull_logs(${vault_id}, 0, 10) p, unnest(p.logs) l`;
      expect(pulled.map((r) => [r.id, r.sequence])).toEqual([[logs[0]!.id, 1], [logs[1]!.id, 2]]);
      const listed = await sql`select vault_id, log_count::int from public.list_vaults() where vault_id = ${vault_id}`;
      expect(listed).toEqual([{ vault_id, log_count: 2 }]);
      const [got] = await sql`select * from public.get_vault_key(${vault_id})`;
      const [updated] = await sql`select * from public.update_vault_key(${vault_id}, ${key.encrypted_vault_key}, ${key.salt}, ${key.nonce}, ${got!.updated_at})`;
      expect(updated!.updated_at.getTime()).toBeGreaterThan(got!.updated_at.getTime());
      await sql`select public.delete_vault(${vault_id})`;
      expect(await sql`select 1 from public.vaults where id = ${vault_id}`).toHaveLength(0);
    });
  });

  it('raises the PT codes with the field path in detail', async () => {
    const codeOf = (query: (sql: any) => Promise<unknown>) => asUser(bob, async (sql) => {
      try {
        await query(sql);
        return 'no error';
      } catch (error: any) {
        return `${error.code} ${error.detail}`;
      }
    });
    expect(await codeOf((sql) => sql`select public.push_logs(${randomUUID()}, ${sql.json([entry()])})`)).toBe('PT404 vault_id');
    expect(await codeOf((sql) => sql`select public.push_logs(${randomUUID()}, ${sql.json([entry({ nonce: '' })])})`)).toBe('PT400 logs[0].nonce');
    expect(await codeOf((sql) => sql`select * from public.pull_logs(${randomUUID()}, 0, 0)`)).toBe('PT400 max_count');
    expect(await codeOf((sql) => sql`select * from public.get_vault_key(${randomUUID()})`)).toBe('PT404 vault_id');
    expect(await codeOf((sql) => sql`select public.delete_vault(${randomUUID()})`)).toBe('PT404 vault_id');
  });
});
