/**
 * Migrations on a populated database (issue 16 item 7): this round's compaction migrations
 * (20261202100000-20261202105959) are applied by the real Supabase CLI to a database holding
 * 1,000,000 sync_logs rows while a client pushes without pause; no push may wait more than 1 s.
 * And how the CLI runs a file (one pgx batch: a pipeline with one Sync): CREATE INDEX CONCURRENTLY
 * is not refused there (PostgreSQL 17), alone in a file or after other statements.
 */
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, migrateUpTo } from './support/fresh-database.ts';

const FIRST_OF_ROUND = '20261202100000';
const AFTER_ROUND = '20261202110000';
const ROWS = 1_000_000;

// One database for both tests, migrated up to this round (the CLI's run over all landed files is slow).
let db: Awaited<ReturnType<typeof freshDatabase>>;
beforeAll(async () => {
  db = await freshDatabase();
  await migrateUpTo(db.url, FIRST_OF_ROUND);
}, 120_000);
afterAll(async () => { await db?.drop(); });

describe('migrations on a populated database', () => {
  it(`applies this round's migrations to ${ROWS.toLocaleString('en')} logs while a client pushes, no push waiting > 1 s`, async () => {
    const userId = randomUUID();
    const vaultId = randomUUID();
    await db.sql`insert into auth.users (id, aud, role, email) values (${userId}, 'authenticated', 'authenticated', ${`${userId}@test.haex.local`})`;
    const asUser = <T>(fn: (tx: any) => Promise<T>) => db.sql.begin(async (tx) => {
      await tx`select set_config('role', 'authenticated', true),
        set_config('request.jwt.claims', ${JSON.stringify({ role: 'authenticated', sub: userId })}, true)`;
      return fn(tx);
    }) as Promise<T>;
    await asUser((tx) => tx`select from public.create_vault(${vaultId}, 'QUJD', 'QUJD', 'QUJD')`);
    // The logs, as compact as possible: what matters is the table's and its indexes' size. Ids and
    // record keys ascend with the sequence, so that each index grows at its end (a fast load).
    const loadStarted = performance.now();
    // Foreign-key checks off for the load (session_replication_role), as pg_restore does it.
    await db.sql.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await tx`insert into public.sync_logs (vault_id, sequence, id, author_id, encrypted_data, nonce, haex_timestamp, record_key)
      select ${vaultId}::uuid, i, lpad(to_hex(i), 32, '0')::uuid, ${userId}::uuid, 'QUJD', 'n', lpad(i::text, 8, '0'),
             case when i % 2 = 0 then 'k' || lpad((i / 4)::text, 7, '0') end
      from generate_series(1, ${ROWS}::int) i`;
    });
    console.log(`loaded ${ROWS} logs in ${Math.round(performance.now() - loadStarted)} ms`);
    await db.sql`update public.vaults set last_sequence = ${ROWS}, bytes = ${ROWS * 13} where id = ${vaultId}`;
    await db.sql`analyze public.sync_logs`;

    const waits: number[] = [];
    let migrating = true;
    const pusher = (async () => {
      for (let i = 0; migrating || i < 3; i++) {
        const logs = Array.from({ length: 10 }, (_, k) => ({
          id: randomUUID(), encrypted_data: 'QUJD', nonce: 'n', haex_timestamp: `z${i}-${k}`, record_key: `k${k}` }));
        const started = performance.now();
        await asUser((tx) => tx`select public.push_logs(${vaultId}::uuid, ${tx.json(logs)})`);
        waits.push(performance.now() - started);
      }
    })();
    const started = performance.now();
    try {
      await migrateUpTo(db.url, AFTER_ROUND);
    } finally {
      migrating = false;
    }
    const migrationMs = performance.now() - started;
    await pusher;
    // Every file of the round was applied, not merely some.
    const applied = await db.sql`select version from supabase_migrations.schema_migrations
      where version >= ${FIRST_OF_ROUND} and version < ${AFTER_ROUND} order by version`;
    const round = readdirSync(new URL('../supabase/migrations/', import.meta.url)).map((f) => f.slice(0, 14))
      .filter((v) => v >= FIRST_OF_ROUND && v < AFTER_ROUND).sort();
    expect(round.length).toBeGreaterThan(0);
    expect(applied.map((r) => r.version)).toEqual(round);
    expect(waits.length).toBeGreaterThanOrEqual(10);
    console.log(`migrations in ${Math.round(migrationMs)} ms; ${waits.length} pushes, longest ${Math.round(Math.max(...waits))} ms`);
    expect(Math.max(...waits)).toBeLessThan(1000);
    const [vault] = await db.sql`select last_sequence::int from public.vaults where id = ${vaultId}`;
    expect(vault!.last_sequence).toBe(ROWS + 10 * waits.length);
  }, 300_000);

  it('the Supabase CLI\'s runner lets CREATE INDEX CONCURRENTLY run, alone in a file or after other statements', async () => {
    const concurrently = (name: string) => `create index concurrently ${name} on public.sync_logs (created_at);\n`;
    await migrateUpTo(db.url, AFTER_ROUND, {
      '20261202105957_concurrent_index_alone.sql': concurrently('sync_logs_probe_a_idx'),
      '20261202105958_concurrent_index_after_set.sql': `set lock_timeout = '1s';\n${concurrently('sync_logs_probe_b_idx')}`,
    });
    const indexes = await db.sql`select c.relname, i.indisvalid from pg_index i join pg_class c on c.oid = i.indexrelid
      where c.relname like 'sync_logs_probe_%' order by 1`;
    expect(indexes.map((r) => ({ ...r }))).toEqual([
      { relname: 'sync_logs_probe_a_idx', indisvalid: true }, { relname: 'sync_logs_probe_b_idx', indisvalid: true }]);
  }, 120_000);
});
