/**
 * The shared-vault migrations (20261203200000-20261203299999) on a populated database while clients
 * push without pause (GUIDE: no long locks on hot tables): the Supabase CLI applies them to a
 * database of 300 vaults (one holding 200,000 logs) while four clients push to their vaults; no push
 * fails or waits more than 1 s (the member backfill takes its lock on vaults first, so it never
 * deadlocks against a push), every vault has exactly its owner as owner member afterwards, and every
 * log is numbered gap-free.
 */
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, migrateUpTo } from './support/fresh-database.ts';

const FIRST_OF_ROUND = '20261203200000';
const AFTER_ROUND = '20261203300000';
const VAULTS = 300;
const ROWS = 200_000;

let db: Awaited<ReturnType<typeof freshDatabase>>;
/** Set by the first test: applies the migrations before `stopBefore` (all: undefined) while its 4 clients push; the waits. */
let underLoad: (stopBefore?: string) => Promise<number[]>;
beforeAll(async () => {
  db = await freshDatabase();
  await migrateUpTo(db.url, FIRST_OF_ROUND);
}, 120_000);
afterAll(async () => { await db?.drop(); });

describe('shared-vault migrations on a populated database', () => {
  it(`apply to ${VAULTS} vaults and ${ROWS.toLocaleString('en')} logs while 4 clients push, no push failing or waiting > 1 s`, async () => {
    const users = Array.from({ length: VAULTS }, () => randomUUID());
    const vaults = Array.from({ length: VAULTS }, () => randomUUID());
    await db.sql`insert into auth.users (id, aud, role, email)
      select u, 'authenticated', 'authenticated', u::text || '@test.haex.local' from unnest(${users}::uuid[]) u`;
    // Every user has a live Auth session: the session check (issue 19) refuses claims without one.
    const sessions = Array.from({ length: VAULTS }, () => randomUUID());
    await db.sql`insert into auth.sessions (id, user_id) select s, u from unnest(${sessions}::uuid[], ${users}::uuid[]) as t(s, u)`;
    const sessionOf = new Map<string, string>(users.map((u, i) => [u, sessions[i]!]));
    const asUser = <T>(userId: string, fn: (tx: any) => Promise<T>) => db.sql.begin(async (tx) => {
      const claims = { role: 'authenticated', sub: userId, session_id: sessionOf.get(userId) };
      await tx`select set_config('role', 'authenticated', true),
        set_config('request.jwt.claims', ${JSON.stringify(claims)}, true)`;
      return fn(tx);
    }) as Promise<T>;
    await db.sql`insert into public.vaults (id, owner_id) select v, u from unnest(${vaults}::uuid[], ${users}::uuid[]) as t(v, u)`;
    await db.sql.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await tx`insert into public.sync_logs (vault_id, sequence, id, author_id, encrypted_data, nonce, haex_timestamp)
        select ${vaults[0]!}::uuid, i, lpad(to_hex(i), 32, '0')::uuid, ${users[0]!}::uuid, 'QUJD', 'n', lpad(i::text, 8, '0')
        from generate_series(1, ${ROWS}::int) i`;
    });
    await db.sql`update public.vaults set last_sequence = ${ROWS} where id = ${vaults[0]!}`;
    await db.sql`analyze public.sync_logs`;

    let waits: number[] = [];
    const pushed = new Map<string, number>();
    let migrating = true;
    const pusher = async (index: number) => {
      const [userId, vaultId] = [users[index]!, vaults[index]!];
      for (let i = 0; migrating || i < 3; i++) {
        const logs = Array.from({ length: 10 }, (_, k) => ({ id: randomUUID(), encrypted_data: 'QUJD', nonce: 'n', haex_timestamp: `z${i}-${k}` }));
        const started = performance.now();
        await asUser(userId, (tx) => tx`select public.push_logs(${vaultId}::uuid, ${tx.json(logs)})`);
        waits.push(performance.now() - started);
        pushed.set(vaultId, (pushed.get(vaultId) ?? 0) + 10);
      }
    };
    underLoad = async (stopBefore?: string) => {
      waits = [];
      migrating = true;
      const pushers = Promise.all([0, 1, 2, 3].map(pusher));
      try {
        await migrateUpTo(db.url, stopBefore);
      } finally {
        migrating = false;
      }
      await pushers;
      return waits;
    };
    await underLoad(AFTER_ROUND);
    const [applied] = await db.sql`select count(*)::int as n from supabase_migrations.schema_migrations where version >= ${FIRST_OF_ROUND} and version < ${AFTER_ROUND}`;
    expect(applied!.n).toBeGreaterThanOrEqual(16);
    console.log(`${waits.length} pushes, longest ${Math.round(Math.max(...waits))} ms`);
    expect(Math.max(...waits)).toBeLessThan(1000);
    const [members] = await db.sql`select
      (select count(*)::int from public.vaults v where not exists (
         select from public.vault_members m where m.vault_id = v.id and m.user_id = v.owner_id and m.role = 'owner')) as without_owner,
      (select count(*)::int from public.vault_members) as rows`;
    expect(members).toEqual({ without_owner: 0, rows: VAULTS });
    for (const [index, vaultId] of vaults.slice(0, 4).entries()) {
      const [state] = await db.sql`select v.last_sequence::int as last, count(l.*)::int as logs, max(l.sequence)::int as max
        from public.vaults v left join public.sync_logs l on l.vault_id = v.id where v.id = ${vaultId} group by v.last_sequence`;
      const expected = (index === 0 ? ROWS : 0) + pushed.get(vaultId)!;
      expect(state).toEqual({ last: expected, logs: expected, max: expected });
    }
  }, 300_000);

  it('then the signed-membership round (20261206…, issue 24) applies the same way: every file, no push failing or waiting > 1 s', async () => {
    expect(underLoad).toBeDefined();
    const waits = await underLoad();
    const round = readdirSync(new URL('../supabase/migrations/', import.meta.url)).map((f) => f.slice(0, 14))
      .filter((v) => v >= '20261206000000').sort();
    const applied = await db.sql`select version from supabase_migrations.schema_migrations where version >= '20261206000000' order by version`;
    expect(round.length).toBeGreaterThanOrEqual(6);
    expect(applied.map((r) => r.version)).toEqual(round);
    console.log(`${waits.length} pushes, longest ${Math.round(Math.max(...waits))} ms`);
    expect(waits.length).toBeGreaterThanOrEqual(12);
    expect(Math.max(...waits)).toBeLessThan(1000);
  }, 300_000);
});
