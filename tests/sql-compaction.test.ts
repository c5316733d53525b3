/**
 * Compaction in SQL: push_logs' record_key, compact_logs (what it removes and keeps, bytewise
 * timestamp order, ties, ownership, counters, compacted_through), and compaction racing many
 * pushers without ever losing the newest log of a key. Through PostgREST with user tokens.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { StackUser } from '../stack/users.ts';
import { adminSql, newUser, rpc, stack } from './support/stack.ts';
import { createVault, entry, expectError, type PushResult } from './support/sql-fixtures.ts';

let alice: StackUser;
let bob: StackUser;

beforeAll(async () => {
  [alice, bob] = await Promise.all([newUser('alice'), newUser('bob')]);
});

interface CompactResult { status: string; removed: number; remaining: number; complete: boolean; compacted_through: number }
const keyed = (record_key: string | null, haex_timestamp: string) => ({ ...entry({ haex_timestamp }), record_key });
const push = async (vault_id: string, logs: unknown[], token = alice.access_token) => {
  const res = await rpc<PushResult & { compaction_due?: boolean }>('push_logs', { vault_id, logs }, token);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
};
const compact = async (vault_id: string, token = alice.access_token) => {
  const res = await rpc<CompactResult>('compact_logs', { vault_id }, token);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
};
const stored = async (vaultId: string) => (await adminSql()`select sequence::int, record_key, haex_timestamp
  from public.sync_logs where vault_id = ${vaultId} order by sequence`).map((r) => ({ ...r }));
const counters = async (vaultId: string) => {
  const [row] = await adminSql()`select last_sequence::int, bytes::int, compacted_logs::int, compacted_through::int,
      (select count(*)::int from public.sync_logs l where l.vault_id = v.id) as count,
      (select coalesce(sum(octet_length(encrypted_data) + octet_length(nonce) + octet_length(haex_timestamp)), 0)::int
         from public.sync_logs l where l.vault_id = v.id) as sum
    from public.vaults v where v.id = ${vaultId}`;
  return row!;
};

describe('push_logs record_key', () => {
  it('stores record_key as sent, and null when absent or null', async () => {
    const { vault_id } = await createVault(alice);
    await push(vault_id, [keyed('a-Z_09', 't1'), entry(), keyed(null, 't2'), keyed('x'.repeat(64), 't3')]);
    expect((await stored(vault_id)).map((l) => l.record_key)).toEqual(['a-Z_09', null, null, 'x'.repeat(64)]);
  });

  const invalid: [string, unknown][] = [
    ['empty', ''], ['65 characters', 'k'.repeat(65)], ['padded', 'abc='], ['standard base64 +', 'a+b'],
    ['standard base64 /', 'a/b'], ['a space', 'a b'], ['a number', 7], ['an object', {}],
  ];
  it.each(invalid)('refuses a record_key that is %s with PT400 naming logs[i].record_key, storing nothing', async (_, value) => {
    const { vault_id } = await createVault(alice);
    const res = await rpc('push_logs', { vault_id, logs: [keyed('ok', 't'), { ...entry(), record_key: value }] }, alice.access_token);
    expectError(res, 400, 'PT400', 'logs[1].record_key');
    expect(await stored(vault_id)).toEqual([]);
  });

  it('the push (its fast check and its diagnosis), the column check and private.limits() agree on the longest record_key', async () => {
    const max = (await adminSql()`select (private.limits()).max_record_key_chars as max`)[0]!.max as number;
    for (const fn of ['public.push_log_columns(uuid, uuid[], text[], text[], text[], text[], bigint[])',
      'private.raise_log_problem(text[], text[], text[], text[], bigint[], text[])']) {
      const source = (await adminSql()`select prosrc from pg_proc where oid = ${fn}::regprocedure`)[0]!.prosrc as string;
      expect(source, fn).toContain(`'^[A-Za-z0-9_-]{1,${max}}$'`);
    }
    const { vault_id } = await createVault(alice);
    await push(vault_id, [keyed('k'.repeat(max), 't')]);
    const direct = adminSql()`insert into public.sync_logs (vault_id, sequence, id, author_id, encrypted_data, nonce, haex_timestamp, record_key)
      values (${vault_id}, 2, gen_random_uuid(), ${alice.id}, 'QUJD', 'bm9uY2U=', 't', ${'k'.repeat(max + 1)})`;
    await expect(direct).rejects.toMatchObject({ code: '23514' });
  });

  it('keeps the stored record_key when a retried id comes with another one', async () => {
    const { vault_id } = await createVault(alice);
    const log = keyed('first', 't');
    await push(vault_id, [log]);
    const again = await push(vault_id, [{ ...log, record_key: 'second' }]);
    expect(again.results[0]).toEqual({ id: log.id, sequence: 1, duplicate: true });
    expect((await stored(vault_id)).map((l) => l.record_key)).toEqual(['first']);
  });

});

describe('compact_logs', () => {
  it('removes every keyed log a newer log of its key supersedes and keeps the newest of each key and every unkeyed log', async () => {
    const { vault_id } = await createVault(alice);
    await push(vault_id, [
      keyed('a', '0003'), keyed('b', '0001'), entry({ haex_timestamp: '0000' }), keyed('a', '0001'), // a@4 older than a@1
      keyed('b', '0002'), keyed('a', '0002'), entry({ haex_timestamp: '0009' }), keyed('c', '0001'),
    ]);
    expect(await compact(vault_id)).toEqual({ status: 'complete', removed: 3, remaining: 5, complete: true, compacted_through: 8 });
    expect(await stored(vault_id)).toEqual([
      { sequence: 1, record_key: 'a', haex_timestamp: '0003' },
      { sequence: 3, record_key: null, haex_timestamp: '0000' },
      { sequence: 5, record_key: 'b', haex_timestamp: '0002' },
      { sequence: 7, record_key: null, haex_timestamp: '0009' },
      { sequence: 8, record_key: 'c', haex_timestamp: '0001' },
    ]);
    expect(await compact(vault_id)).toEqual({ status: 'nothing_to_do', removed: 0, remaining: 5, complete: true, compacted_through: 8 });
  });

  it('compares haex_timestamp bytewise (C collation), not by the database locale', async () => {
    const { vault_id } = await createVault(alice);
    // Bytewise 'Z' (0x5A) < 'a' (0x61) and 'B' < 'a'; a linguistic collation orders a < B < Z.
    await push(vault_id, [keyed('k', 'a'), keyed('k', 'Z'), keyed('k', 'B'), keyed('m', 'é'), keyed('m', 'f')]);
    await compact(vault_id);
    expect((await stored(vault_id)).map((l) => l.haex_timestamp)).toEqual(['a', 'é']);
    // The test database is itself C-collated (initdb default here); hosted Supabase's is not, so the
    // order must not depend on it: the record-key index (whose order compact_logs follows) says "C".
    const [index] = await adminSql()`select c.collname from pg_index i
      join pg_class x on x.oid = i.indexrelid
      join pg_collation c on c.oid = i.indcollation[2]
      where x.relname = 'sync_logs_vault_id_record_key_idx'`;
    expect(index?.collname).toBe('C');
  });

  it('keeps the higher sequence of equal timestamps', async () => {
    const { vault_id } = await createVault(alice);
    await push(vault_id, [keyed('k', 'same'), keyed('k', 'same'), keyed('k', 'older')]);
    await compact(vault_id);
    expect((await stored(vault_id)).map((l) => l.sequence)).toEqual([2]);
  });

  it('keeps counters exact: log_count, bytes and compacted_logs in list_vaults, compacted_through at last_sequence', async () => {
    const { vault_id } = await createVault(alice);
    await push(vault_id, Array.from({ length: 30 }, (_, i) => keyed(`k${i % 4}`, String(i).padStart(3, '0'))));
    await push(vault_id, [entry(), entry()]);
    expect(await compact(vault_id)).toMatchObject({ status: 'complete', removed: 26, remaining: 6, complete: true });
    const c = await counters(vault_id);
    expect(c).toEqual({ last_sequence: 32, count: 6, bytes: c.sum, sum: c.sum, compacted_logs: 26, compacted_through: 32 });
    const list = await rpc<any[]>('list_vaults', {}, alice.access_token);
    const row = list.body.find((v) => v.vault_id === vault_id);
    expect(row).toMatchObject({ last_sequence: 32, log_count: 6, bytes: c.sum, compacted_logs: 26, compacted_through: 32 });
    await push(vault_id, [keyed('k0', '999')]);
    expect(await compact(vault_id)).toMatchObject({ status: 'complete', removed: 1, remaining: 6, complete: true });
    expect(await counters(vault_id)).toMatchObject({ last_sequence: 33, count: 6, compacted_logs: 27, compacted_through: 33 });
  });

  it('answers PT404 for another user\'s vault and an unknown one, removing nothing; anon and no token are refused', async () => {
    const { vault_id } = await createVault(alice);
    await push(vault_id, [keyed('k', '1'), keyed('k', '2')]);
    expectError(await rpc('compact_logs', { vault_id }, bob.access_token), 404, 'PT404', 'vault_id');
    expectError(await rpc('compact_logs', { vault_id: randomUUID() }, alice.access_token), 404, 'PT404', 'vault_id');
    expectError(await rpc('compact_logs', { vault_id: null }, alice.access_token), 400, 'PT400', 'vault_id');
    expect((await rpc('compact_logs', { vault_id })).status).toBe(401);
    expect((await rpc('compact_logs', { vault_id }, stack.ANON_KEY)).status).toBe(401);
    expect(await stored(vault_id)).toHaveLength(2);
  });

  it('does not hold the push lock while it deletes: pushes to the vault complete while a long compaction runs', async () => {
    const { vault_id } = await createVault(alice);
    // Long enough for several pushes (~0.4 s idle), short enough that one step stays far below the
    // 8 s statement_timeout on a loaded CI machine (100k rows once took longer there and timed out;
    // 40k took 2-3 s in quiet CI runs and 9.3 s in one that shared the stack with heavier files).
    const N = 20_000;
    const sql = adminSql();
    await sql`insert into public.sync_logs (vault_id, sequence, id, author_id, encrypted_data, nonce, haex_timestamp, record_key)
      select ${vault_id}::uuid, i, gen_random_uuid(), ${alice.id}::uuid, 'AAAA', 'n', lpad(i::text, 10, '0'), 'k' || (i % 100)
      from generate_series(1, ${N}::int) i`;
    await sql`update public.vaults set last_sequence = ${N}, bytes = ${N * 15} where id = ${vault_id}`;
    let done = false;
    const compaction = rpc<CompactResult>('compact_logs', { vault_id }, alice.access_token).finally(() => { done = true; });
    // Wait until the compaction is running in the database.
    for (let i = 0; i < 200; i++) {
      const [row] = await sql`select count(*)::int as n from pg_stat_activity where state = 'active' and query like '%compact_logs%'
        and pid <> pg_backend_pid()`;
      if (row!.n > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    let pushedWhileRunning = 0;
    while (!done) {
      await push(vault_id, [keyed('k1', 'zz')]);
      if (!done) pushedWhileRunning++;
    }
    const result = await compaction;
    expect(result.status, JSON.stringify(result.body)).toBe(200);
    // Had it held the vault's row lock while deleting, every push would have waited for its commit.
    expect(pushedWhileRunning).toBeGreaterThanOrEqual(3);
    expect(result.body.removed).toBeGreaterThan(0);
    for (let i = 0; i < 50 && !(await compact(vault_id)).complete; i++) { /* the rest, in further calls */ }
    const c = await counters(vault_id);
    expect(c.count).toBe(100); // the newest of each of the 100 keys
    expect(c.count).toBe(c.last_sequence - c.compacted_logs);
  }, 60_000);

  it('never removes the newest log of any of 300 keys while 6 pushers push 25 batches each and 2 compactors run throughout', async () => {
    const { vault_id } = await createVault(alice);
    const KEYS = 300;
    const PUSHES = 25;
    const newestPushed = new Map<string, string>();
    let clock = 0;
    let pushersDone = false;
    const pusher = async (device: number) => {
      for (let p = 0; p < PUSHES; p++) {
        // Timestamps from a shared clock plus some from the past (late devices): both kinds of superseding.
        const logs = Array.from({ length: 40 }, () => keyed(`k${Math.floor(Math.random() * KEYS)}`,
          `${String(Math.random() < 0.2 ? Math.floor(Math.random() * clock) : clock++).padStart(8, '0')}-${device}`));
        await push(vault_id, logs);
        for (const l of logs) {
          const prev = newestPushed.get(l.record_key!);
          if (prev === undefined || Buffer.compare(Buffer.from(l.haex_timestamp), Buffer.from(prev)) > 0) {
            newestPushed.set(l.record_key!, l.haex_timestamp);
          }
        }
      }
    };
    const statuses: string[] = [];
    // Runs while the pushers do (their work is bounded), and at least 3 times.
    const compactor = async () => {
      for (let runs = 0; !pushersDone || runs < 3; runs++) {
        const r = await compact(vault_id);
        expect(['complete', 'more', 'nothing_to_do', 'busy']).toContain(r.status);
        statuses.push(r.status);
      }
    };
    const compactors = [compactor(), compactor()];
    await Promise.all(Array.from({ length: 6 }, (_, i) => pusher(i)));
    pushersDone = true;
    await Promise.all(compactors);
    expect(statuses.filter((s) => s === 'complete').length).toBeGreaterThan(0);
    // Every push is in; what survives must include the newest log of every key over ALL pushes.
    const c = await counters(vault_id);
    expect(c.count).toBe(c.last_sequence - c.compacted_logs);
    expect(c.bytes).toBe(c.sum);
    const survivorNewest = new Map<string, string>();
    for (const l of await stored(vault_id)) {
      const prev = survivorNewest.get(l.record_key);
      if (prev === undefined || Buffer.compare(Buffer.from(l.haex_timestamp), Buffer.from(prev)) > 0) {
        survivorNewest.set(l.record_key, l.haex_timestamp);
      }
    }
    expect(survivorNewest).toEqual(newestPushed);
    // Finishing the pass leaves exactly the newest log of each key.
    let last: CompactResult | undefined;
    for (let i = 0; i < 20 && !last?.complete; i++) last = await compact(vault_id);
    expect(last?.complete).toBe(true);
    expect((await stored(vault_id)).map((l) => `${l.record_key}@${l.haex_timestamp}`).sort())
      .toEqual([...newestPushed].map(([k, t]) => `${k}@${t}`).sort());
  }, 60_000);
});
