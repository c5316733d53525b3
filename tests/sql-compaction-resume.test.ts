/**
 * Compaction at scale (issue 16): compact_logs resumes where the last call stopped (a pass touches
 * only logs pushed since the last one), a second call answers `busy` at once instead of waiting,
 * compacted ids stay duplicates for push_logs, and compaction_due goes to one pusher at a time.
 * Through PostgREST with user tokens; small steps through private.compact_logs' budget arguments.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { StackUser } from '../stack/users.ts';
import { adminSql, newUser, rpc, sessionIdOf } from './support/stack.ts';
import { createVault, entry, expectError, type PushResult } from './support/sql-fixtures.ts';

interface CompactResult { status: string; removed: number; remaining: number; complete: boolean; compacted_through: number }
type PushAnswer = PushResult & { compaction_due?: boolean };

let alice: StackUser;
beforeAll(async () => { alice = await newUser('resume'); });

const keyed = (record_key: string | null, haex_timestamp: string) => ({ ...entry({ haex_timestamp }), record_key });
const push = async (vault_id: string, logs: unknown[]) => {
  const res = await rpc<PushAnswer>('push_logs', { vault_id, logs }, alice.access_token);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
};
const compact = async (vault_id: string) => {
  const res = await rpc<CompactResult>('compact_logs', { vault_id }, alice.access_token);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
};
/** One committed step of private.compact_logs as alice, with a tiny budget and batch. */
const step = async (vault_id: string, batch: number, budget = '0 seconds') => {
  const [row] = await adminSql().begin(async (sql) => {
    await sql`select set_config('request.jwt.claims', ${JSON.stringify({ sub: alice.id, role: 'authenticated', session_id: sessionIdOf(alice) })}, true)`;
    return sql`select private.compact_logs(${vault_id}::uuid, ${budget}::interval, ${batch}::int) as r`;
  });
  return row!.r as CompactResult;
};
const live = async (vault_id: string) => (await adminSql()`select id, sequence::int, record_key, haex_timestamp
  from public.sync_logs where vault_id = ${vault_id} order by sequence`).map((r) => ({ ...r }));
/** Bulk logs straight into the table (as a bench would), counters set to match. */
async function bulk(vault_id: string, n: number, keys: number) {
  const sql = adminSql();
  await sql`insert into public.sync_logs (vault_id, sequence, id, author_id, encrypted_data, nonce, haex_timestamp, record_key)
    select ${vault_id}::uuid, i, gen_random_uuid(), ${alice.id}::uuid, 'AAAA', 'n', lpad(i::text, 10, '0'), 'k' || (i % ${keys}::int)
    from generate_series(1, ${n}::int) i`;
  await sql`update public.vaults set last_sequence = ${n}, bytes = ${n * 15} where id = ${vault_id}`;
}

describe('compact_logs resumes', () => {
  it('continues from compacted_through: 2,000 logs over 700 keys finish in exactly 4 steps of 500, each moving the cursor by 500', async () => {
    const { vault_id } = await createVault(alice);
    await bulk(vault_id, 2000, 700);
    const steps: CompactResult[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await step(vault_id, 500);
      steps.push(r);
      if (r.complete) break;
    }
    // A call that restarted at sequence 0 would never pass 500 with a zero time budget.
    expect(steps.map((s) => [s.status, s.compacted_through])).toEqual([['more', 500], ['more', 1000], ['more', 1500], ['complete', 2000]]);
    expect(steps.reduce((n, s) => n + s.removed, 0)).toBe(1300);
    const survivors = await live(vault_id);
    expect(survivors).toHaveLength(700);
    expect(new Set(survivors.map((l) => l.record_key)).size).toBe(700);
    expect(survivors.every((l) => l.sequence > 1300)).toBe(true); // the newest of each key: its last
  });

  it('a pass after new pushes examines only the new logs: 10 new logs over old keys take 2 steps of 5, not a rescan', async () => {
    const { vault_id } = await createVault(alice);
    await bulk(vault_id, 3000, 1000);
    for (let i = 0; i < 5 && !(await step(vault_id, 5000, '10 seconds')).complete; i++) { /* first pass */ }
    expect(await live(vault_id)).toHaveLength(1000);
    await push(vault_id, Array.from({ length: 10 }, (_, i) => keyed(`k${i}`, 'z')));
    const a = await step(vault_id, 5);
    const b = await step(vault_id, 5);
    expect([a.status, a.compacted_through, a.removed, b.status, b.compacted_through, b.removed])
      .toEqual(['more', 3005, 5, 'complete', 3010, 5]);
    expect(await step(vault_id, 5)).toMatchObject({ status: 'nothing_to_do', complete: true, removed: 0 });
  });

  it('a second call while one runs answers busy at once, without waiting for it', async () => {
    const { vault_id } = await createVault(alice);
    await push(vault_id, [keyed('k', '1'), keyed('k', '2')]);
    let release!: () => void;
    const held = new Promise<void>((resolve) => { release = resolve; });
    let entered!: () => void;
    const running = new Promise<void>((resolve) => { entered = resolve; });
    // The first compaction: its transaction stays open (holding the vault's compaction lock) until released.
    const first = adminSql().begin(async (sql) => {
      await sql`select set_config('request.jwt.claims', ${JSON.stringify({ sub: alice.id, role: 'authenticated', session_id: sessionIdOf(alice) })}, true)`;
      const [row] = await sql`select private.compact_logs(${vault_id}::uuid) as r`;
      entered();
      await held;
      return row!.r as CompactResult;
    });
    await running;
    const second = await compact(vault_id);
    release();
    expect(second).toMatchObject({ status: 'busy', complete: false, removed: 0 });
    expect((await first).status).toBe('complete');
    expect(await compact(vault_id)).toMatchObject({ status: 'nothing_to_do', complete: true });
  });

  it('refuses a batch size out of 1..100000 with PT400 naming batch_size', async () => {
    const { vault_id } = await createVault(alice);
    await expect(step(vault_id, 0)).rejects.toMatchObject({ code: 'PT400', detail: 'batch_size' });
  });
});

describe('ids survive compaction', () => {
  it('a re-push of a compacted log is a duplicate with its first sequence, is not stored, and pulls never show it', async () => {
    const { vault_id } = await createVault(alice);
    const old = keyed('k', '1');
    await push(vault_id, [old, keyed('k', '2'), keyed('other', '1')]);
    expect(await compact(vault_id)).toMatchObject({ status: 'complete', removed: 1 });
    // Alone (fast path's compacted-id probe) and next to a new log (the exact path).
    const again = await push(vault_id, [old]);
    expect(again).toEqual({ last_sequence: 3, results: [{ id: old.id, sequence: 1, duplicate: true }] });
    const fresh = keyed('n', '1');
    const mixed = await push(vault_id, [fresh, old, fresh]);
    expect(mixed).toEqual({ last_sequence: 4, results: [
      { id: fresh.id, sequence: 4, duplicate: false }, { id: old.id, sequence: 1, duplicate: true },
      { id: fresh.id, sequence: 4, duplicate: true }] });
    expect((await live(vault_id)).map((l) => l.sequence)).toEqual([2, 3, 4]);
    const pulled = await rpc<any[]>('pull_logs', { vault_id, after_sequence: 0, max_count: 100 }, alice.access_token);
    expect(pulled.body[0].logs.map((r: { sequence: number }) => r.sequence)).toEqual([2, 3, 4]);
    const list = await rpc<any[]>('list_vaults', {}, alice.access_token);
    expect(list.body.find((v) => v.vault_id === vault_id)).toMatchObject({ last_sequence: 4, log_count: 3, compacted_logs: 1 });
  });

  it('keeps every compacted id across resumed steps, and drops them with the vault', async () => {
    const { vault_id } = await createVault(alice);
    await bulk(vault_id, 1000, 10);
    for (let i = 0; i < 20 && !(await step(vault_id, 100)).complete; i++) { /* steps */ }
    const [row] = await adminSql()`select count(*)::int as n, min(sequence)::int as lo, max(sequence)::int as hi
      from private.compacted_log_ids where vault_id = ${vault_id}`;
    expect(row).toEqual({ n: 990, lo: 1, hi: 990 });
    expect((await rpc('delete_vault', { vault_id }, alice.access_token)).status).toBeLessThan(300);
    expect((await adminSql()`select count(*)::int as n from private.compacted_log_ids where vault_id = ${vault_id}`)[0]!.n).toBe(0);
  });
});

describe('compaction_due', () => {
  it('needs >= 1,000 keyed logs since the last compaction AND at least half the live logs', async () => {
    const { vault_id } = await createVault(alice);
    await push(vault_id, Array.from({ length: 1000 }, () => entry()));
    expect((await push(vault_id, [entry(), entry()])).compaction_due).toBeUndefined();
    // 1,000 keyed of 2,002 live: enough keyed logs, but less than half.
    expect((await push(vault_id, Array.from({ length: 1000 }, (_, i) => keyed(`k${i % 5}`, String(i).padStart(5, '0'))))).compaction_due)
      .toBeUndefined();
    // 1,002 of 2,004: half.
    expect((await push(vault_id, [keyed('k1', 'z1'), keyed('k2', 'z2')])).compaction_due).toBe(true);
  });

  it('is said to one pusher at a time (a lease), and again after a complete compaction once due again', async () => {
    const { vault_id } = await createVault(alice);
    const batch = (tag: string) => Array.from({ length: 1000 }, (_, i) => keyed(`k${i % 5}`, `${tag}${String(i).padStart(5, '0')}`));
    expect((await push(vault_id, batch('a'))).compaction_due).toBe(true);
    // Still due by the counters, but the lease is taken: nobody else is sent.
    const others = await Promise.all([push(vault_id, batch('b')), push(vault_id, batch('c'))]);
    expect(others.map((o) => o.compaction_due)).toEqual([undefined, undefined]);
    expect(await compact(vault_id)).toMatchObject({ status: 'complete' });
    expect((await push(vault_id, batch('d'))).compaction_due).toBe(true);
  });

  it('is said again once the lease expired, even without a compaction', async () => {
    const { vault_id } = await createVault(alice);
    const batch = (tag: string) => Array.from({ length: 1000 }, (_, i) => keyed(`k${i % 5}`, `${tag}${String(i).padStart(5, '0')}`));
    expect((await push(vault_id, batch('a'))).compaction_due).toBe(true);
    expect((await push(vault_id, batch('b'))).compaction_due).toBeUndefined();
    await adminSql()`update private.compaction_leases set expires_at = now() - interval '1 second' where vault_id = ${vault_id}`;
    expect((await push(vault_id, batch('c'))).compaction_due).toBe(true);
  });
});

describe('a too-large log', () => {
  it('answers PT413 naming logs[i].encrypted_data with a hint at the limit and at chunking', async () => {
    const { vault_id } = await createVault(alice);
    const max = (await adminSql()`select (private.limits()).max_log_data_chars as max`)[0]!.max as number;
    const res = await rpc('push_logs', { vault_id, logs: [entry(), entry({ encrypted_data: 'A'.repeat(max + 4) })] }, alice.access_token);
    expectError(res, 413, 'PT413', 'logs[1].encrypted_data');
    expect(res.body.hint).toContain(String(max));
    expect(res.body.hint).toMatch(/split big data into several logs/i);
    expect(await live(vault_id)).toEqual([]);
  });
});
