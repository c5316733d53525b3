/**
 * Ordering and atomicity of push_logs under load, through PostgREST with user tokens:
 *  - 8 pushers on one vault + 4 pullers following it + 8 pushers on their own vaults for 10 s:
 *    sequences 1..N exactly once per vault, every pushed id stored once, every puller page starts
 *    at its cursor + 1 (never N+2 before N+1);
 *  - a retried push (lost response) stores nothing twice; a batch with one bad entry stores nothing;
 *  - a connection killed while its push holds the vault lock stores nothing, the push waiting for
 *    the lock continues gap-free, and a push to another vault does not wait at all.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import postgres from 'postgres';
import { beforeAll, describe, expect, it } from 'vitest';
import type { StackUser } from '../stack/users.ts';
import { adminSql, newUser, rpc, sessionIdOf, stack } from './support/stack.ts';

const LOAD_MS = 10_000;
const BATCH = 50;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const b64 = (bytes: number) => randomBytes(bytes).toString('base64');
const entry = (device = 'd') => ({ id: randomUUID(), encrypted_data: b64(120), nonce: b64(12), haex_timestamp: `${Date.now()}-${device}`, device_id: device });

interface PushResult { last_sequence: number; results: { id: string; sequence: number; duplicate: boolean }[] }
interface PullRow { logs: Array<{ id: string; sequence: number }>; last_sequence: number; has_more: boolean; next_sequence: number }

/** Straight to PostgREST (as the gateway forwards it), keeping the Node gateway off the hot loop. */
async function postgrest<T>(fn: string, args: unknown, token: string): Promise<{ status: number; body: T }> {
  const res = await fetch(`${stack.POSTGREST_URL}/rpc/${fn}`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(args),
  });
  return { status: res.status, body: await res.json() as T };
}

async function createVault(user: StackUser) {
  const vault_id = randomUUID();
  const res = await rpc('create_vault', { vault_id, encrypted_vault_key: b64(48), salt: b64(16), nonce: b64(12) }, user.access_token);
  expect(res.status).toBe(200);
  return vault_id;
}

/** The superuser's view: is the vault's log exactly sequences 1..last_sequence with distinct ids? */
async function integrity(vaultId: string) {
  const [row] = await adminSql()`select v.last_sequence::int as last, count(l.*)::int as count,
      coalesce(min(l.sequence), 0)::int as min, coalesce(max(l.sequence), 0)::int as max,
      count(distinct l.id)::int as ids,
      coalesce(bool_and(l.author_id = v.owner_id), true) as authored
    from public.vaults v left join public.sync_logs l on l.vault_id = v.id
    where v.id = ${vaultId} group by v.id`;
  return row!;
}

const storedIds = async (vaultId: string) =>
  new Set((await adminSql()`select id from public.sync_logs where vault_id = ${vaultId}`).map((r) => r.id as string));

describe('8 pushers + 4 pullers on one vault, 8 pushers on their own vaults', () => {
  it(`keeps every vault gap-free and every puller contiguous for ${LOAD_MS / 1000} s`, async () => {
    const owner = await newUser('shared-owner');
    const shared = await createVault(owner);
    const solo = await Promise.all(Array.from({ length: 8 }, async (_, i) => {
      const user = await newUser(`solo-${i}`);
      return { user, vault: await createVault(user) };
    }));

    let stop = false;
    const pushed = new Map<string, string[]>(); // vault -> ids pushed
    const reported = new Map<string, number[]>(); // vault -> sequences reported as new
    const failures: string[] = [];
    let pushes = 0;

    const pusher = async (vault: string, token: string, device: string) => {
      const ids = pushed.get(vault) ?? pushed.set(vault, []).get(vault)!;
      const seqs = reported.get(vault) ?? reported.set(vault, []).get(vault)!;
      while (!stop) {
        const logs = Array.from({ length: BATCH }, () => entry(device));
        const res = await postgrest<PushResult>('push_logs', { vault_id: vault, logs }, token);
        if (res.status !== 200) {
          failures.push(`${res.status} ${JSON.stringify(res.body)}`);
          continue;
        }
        pushes++;
        ids.push(...logs.map((l) => l.id));
        for (const r of res.body.results) if (!r.duplicate) seqs.push(r.sequence);
        // within one push the sequences are consecutive, in input order
        const expected = res.body.results.map((_, i) => res.body.last_sequence - BATCH + 1 + i);
        if (JSON.stringify(res.body.results.map((r) => r.sequence)) !== JSON.stringify(expected)) {
          failures.push(`non-consecutive push result ending at ${res.body.last_sequence}`);
        }
      }
    };

    interface Puller { cursor: number; pages: number; empty: number; rows: number; violations: string[] }
    const pullers: Puller[] = Array.from({ length: 4 }, () => ({ cursor: 0, pages: 0, empty: 0, rows: 0, violations: [] }));
    let finalSequence = Number.POSITIVE_INFINITY;
    const pull = async (p: Puller, pageSize: number) => {
      const deadline = () => Date.now() > started + LOAD_MS + 15_000;
      while (p.cursor < finalSequence && !deadline()) {
        const res = await postgrest<PullRow[]>('pull_logs', { vault_id: shared, after_sequence: p.cursor, max_count: pageSize }, owner.access_token);
        if (res.status !== 200) {
          p.violations.push(`status ${res.status}`);
          break;
        }
        p.pages++;
        if (res.body.length !== 1) p.violations.push(`after ${p.cursor}: ${res.body.length} rows, expected one page`);
        const rows = res.body[0]!.logs;
        rows.forEach((row, i) => {
          if (row.sequence !== p.cursor + 1 + i) p.violations.push(`after ${p.cursor} got ${row.sequence} at ${i}`);
        });
        // The page's state is of the page's own snapshot: the cursor is the last row, "more" exactly
        // when the vault had more, and a page is short only at the end.
        const state = res.body[0]!;
        const last = rows.length > 0 ? rows[rows.length - 1]!.sequence! : p.cursor;
        if (state.next_sequence !== last || state.has_more !== (last < state.last_sequence)
          || (rows.length < pageSize && state.has_more)) {
          p.violations.push(`after ${p.cursor}: ${rows.length} rows with ${JSON.stringify({ ...state, logs: undefined })}`);
        }
        if (rows.length > 0) {
          p.cursor = last;
          p.rows += rows.length;
        } else {
          p.empty++;
          await sleep(25); // caught up: poll again shortly (as a client between realtime nudges would)
        }
      }
    };

    const started = Date.now();
    const pushers = [
      ...Array.from({ length: 8 }, (_, i) => pusher(shared, owner.access_token, `shared-${i}`)),
      ...solo.map((s, i) => pusher(s.vault, s.user.access_token, `solo-${i}`)),
    ];
    const pulling = pullers.map((p, i) => pull(p, [1000, 500, 137, 1000][i]!));
    await sleep(LOAD_MS);
    stop = true;
    await Promise.all(pushers);
    const elapsed = (Date.now() - started) / 1000;
    finalSequence = (await integrity(shared)).last;
    await Promise.all(pulling);

    const totalLogs = [...pushed.values()].reduce((sum, ids) => sum + ids.length, 0);
    console.log(`concurrency: ${pushes} pushes of ${BATCH} = ${totalLogs} logs in ${elapsed.toFixed(1)} s `
      + `(${Math.round(totalLogs / elapsed)} logs/s, shared vault ${finalSequence}); `
      + `pullers: ${pullers.map((p) => `${p.rows} rows/${p.pages} pages (${p.empty} empty)`).join(', ')}`);

    expect(failures).toEqual([]);
    expect(finalSequence).toBeGreaterThan(BATCH * 8);
    for (const [vault, ids] of pushed) {
      const check = await integrity(vault);
      expect(check).toEqual({ last: ids.length, count: ids.length, min: 1, max: ids.length, ids: ids.length, authored: true });
      const stored = await storedIds(vault);
      expect(ids.filter((id) => !stored.has(id))).toEqual([]);
      const seqs = [...reported.get(vault)!].sort((a, b) => a - b);
      expect(seqs).toEqual(Array.from({ length: ids.length }, (_, i) => i + 1));
    }
    for (const p of pullers) {
      expect(p.violations).toEqual([]);
      expect(p.cursor).toBe(finalSequence);
      expect(p.rows).toBe(finalSequence);
    }
  }, 60_000);
});

describe('atomicity and idempotency', () => {
  let user: StackUser;
  beforeAll(async () => { user = await newUser('atomic'); });

  it('a retried push whose response was lost stores nothing twice and reports the original sequences', async () => {
    const vault = await createVault(user);
    await postgrest('push_logs', { vault_id: vault, logs: [entry(), entry()] }, user.access_token);
    const batch = Array.from({ length: 20 }, () => entry());
    const first = await postgrest<PushResult>('push_logs', { vault_id: vault, logs: batch }, user.access_token);
    // a concurrent push lands between the lost response and the retry
    await postgrest('push_logs', { vault_id: vault, logs: [entry()] }, user.access_token);
    const retry = await postgrest<PushResult>('push_logs', { vault_id: vault, logs: batch }, user.access_token);
    expect(first.body.results.map((r) => [r.sequence, r.duplicate])).toEqual(batch.map((_, i) => [i + 3, false]));
    expect(retry.body).toEqual({
      last_sequence: 23,
      results: first.body.results.map((r) => ({ ...r, duplicate: true })),
    });
    expect(await integrity(vault)).toEqual({ last: 23, count: 23, min: 1, max: 23, ids: 23, authored: true });
  });

  it('concurrent retries of the same batch store it once', async () => {
    const vault = await createVault(user);
    const batch = Array.from({ length: 30 }, () => entry());
    const answers = await Promise.all(Array.from({ length: 6 }, () =>
      postgrest<PushResult>('push_logs', { vault_id: vault, logs: batch }, user.access_token)));
    expect(answers.map((a) => a.status)).toEqual(Array(6).fill(200));
    expect(answers.filter((a) => a.body.results.every((r) => !r.duplicate))).toHaveLength(1);
    expect(answers.filter((a) => a.body.results.every((r) => r.duplicate))).toHaveLength(5);
    for (const a of answers) expect(a.body.results.map((r) => r.sequence)).toEqual(batch.map((_, i) => i + 1));
    expect(await integrity(vault)).toEqual({ last: 30, count: 30, min: 1, max: 30, ids: 30, authored: true });
  });

  it('a batch with one bad entry stores nothing', async () => {
    const vault = await createVault(user);
    await postgrest('push_logs', { vault_id: vault, logs: [entry()] }, user.access_token);
    const batch = Array.from({ length: 10 }, () => entry());
    batch[7] = { ...batch[7]!, encrypted_data: 'not base64' };
    const res = await postgrest<{ code: string; details: string }>('push_logs', { vault_id: vault, logs: batch }, user.access_token);
    expect([res.status, res.body.code, res.body.details]).toEqual([400, 'PT400', 'logs[7].encrypted_data']);
    expect(await integrity(vault)).toEqual({ last: 1, count: 1, min: 1, max: 1, ids: 1, authored: true });
    const stored = await storedIds(vault);
    expect(batch.filter((l) => stored.has(l.id))).toEqual([]);
  });

  it('a connection killed while its push holds the lock stores nothing; the waiting push continues gap-free; other vaults never wait', async () => {
    const vault = await createVault(user);
    const other = await createVault(user);
    await postgrest('push_logs', { vault_id: vault, logs: [entry(), entry(), entry()] }, user.access_token);

    // A client that begins, pushes and then hangs, holding the vault lock.
    const conn = postgres(stack.DB_URL, { max: 1, onnotice: () => {} });
    const doomed = Array.from({ length: 5 }, () => entry('doomed'));
    // Never settles: the client hangs until its connection is killed (postgres.js then rejects the
    // transaction through its close handler; nothing more is sent on the dead socket).
    const hang = new Promise<void>(() => {});
    let locked!: (pid: number) => void;
    const pidPromise = new Promise<number>((resolve) => { locked = resolve; });
    const transaction = conn.begin(async (sql) => {
      await sql`select set_config('role', 'authenticated', true),
                       set_config('request.jwt.claims', ${JSON.stringify({ sub: user.id, role: 'authenticated', session_id: sessionIdOf(user) })}, true)`;
      const { pid } = (await sql<{ pid: number }[]>`select pg_backend_pid() as pid`)[0]!;
      const { result } = (await sql<{ result: PushResult }[]>`select public.push_logs(${vault}, ${sql.json(doomed)}) as result`)[0]!;
      expect(result.last_sequence).toBe(8); // seen inside the uncommitted transaction only
      locked(pid);
      await hang;
    }).then(() => 'committed', (error: Error) => error);
    const pid = await pidPromise;

    // A push to the same vault waits for the lock...
    const next = Array.from({ length: 4 }, () => entry('next'));
    let waitingDone = false;
    const waiting = postgrest<PushResult>('push_logs', { vault_id: vault, logs: next }, user.access_token)
      .finally(() => { waitingDone = true; });
    // ...while a push to another vault goes straight through.
    const t0 = Date.now();
    const elsewhere = await postgrest<PushResult>('push_logs', { vault_id: other, logs: [entry()] }, user.access_token);
    const elsewhereMs = Date.now() - t0;
    expect(elsewhere.status).toBe(200);
    expect(elsewhereMs).toBeLessThan(2000);
    // the waiting push is blocked by the lock holder's transaction, and by nothing else (polled: the
    // machine may be busy). Counted as the backends the lock holder blocks, so that waiters of other
    // test files running in parallel are never counted.
    let waiters = 0;
    for (let i = 0; i < 100 && waiters === 0; i++) {
      [{ waiters }] = await adminSql()`select count(*)::int as waiters from pg_stat_activity
        where ${pid} = any(pg_blocking_pids(pid))` as unknown as [{ waiters: number }];
      if (waiters === 0) await sleep(50);
    }
    expect(waiters).toBe(1);
    expect(waitingDone).toBe(false);

    // Kill the lock holder's connection mid-transaction.
    const { terminated } = (await adminSql()<{ terminated: boolean }[]>`select pg_terminate_backend(${pid}) as terminated`)[0]!;
    expect(terminated).toBe(true);
    expect(await transaction).toBeInstanceOf(Error);
    await conn.end({ timeout: 1 }).catch(() => {});

    const res = await waiting;
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ last_sequence: 7, results: next.map((l, i) => ({ id: l.id, sequence: 4 + i, duplicate: false })) });
    expect(await integrity(vault)).toEqual({ last: 7, count: 7, min: 1, max: 7, ids: 7, authored: true });
    const stored = await storedIds(vault);
    expect(doomed.filter((l) => stored.has(l.id))).toEqual([]);
  });
});
