/**
 * What Supabase Realtime's postgres_changes would send about our tables: nothing. Hosted Realtime
 * streams the logical decoding of the `supabase_realtime` publication (DELETEs without RLS); this
 * test decodes that publication itself (pgoutput, as a replication client would) across pushes and
 * a compaction, and proves the decoding would show sync_logs if it were published (a control
 * publication of the same table over the same changes).
 */
import { describe, expect, it } from 'vitest';
import { adminSql, newUser, rpc } from './support/stack.ts';
import { createVault, entry } from './support/sql-fixtures.ts';

describe('the supabase_realtime publication', () => {
  it('holds none of our tables (public, private)', async () => {
    const rows = await adminSql()`select schemaname, tablename from pg_publication_tables
      where pubname = 'supabase_realtime' and schemaname in ('public', 'private')`;
    expect(rows).toEqual([]);
  });

  it('decodes to no change of sync_logs or vaults while a vault is pushed to and compacted, where a publication of them would', async () => {
    const sql = await adminSql().reserve();
    const slot = `pub_test_${Math.random().toString(36).slice(2, 10)}`;
    const control = `${slot}_control`;
    try {
      await sql.unsafe(`create publication ${control} for table public.sync_logs, public.vaults`);
      await sql`select pg_create_logical_replication_slot(${slot}, 'pgoutput', true)`; // temporary: gone with the session
      const alice = await newUser('publication');
      const keyed = (k: string, t: string) => ({ ...entry({ haex_timestamp: t }), record_key: k });
      const decode = async (publication: string) => Buffer.concat((await sql`select data from pg_logical_slot_peek_binary_changes(
          ${slot}, null, null, 'proto_version', '1', 'publication_names', ${publication})`).map((r) => r.data as Buffer));
      // A new slot sometimes decodes nothing of the first round while bulk work of another test file
      // runs on the cluster (seen beside migrations-under-load; the slot's consistent point lands
      // after the round). The control publication shows whether this round was decoded: up to three
      // rounds, each a new vault; the assertions below hold for the round that was.
      let realtime = Buffer.alloc(0);
      let controlled = Buffer.alloc(0);
      const vaultIds: string[] = [];
      for (let round = 0; round < 3 && !(controlled.includes('sync_logs') && controlled.includes('vaults')); round++) {
        const { vault_id } = await createVault(alice);
        vaultIds.push(vault_id);
        for (const t of ['1', '2', '3']) expect((await rpc('push_logs', { vault_id, logs: [keyed('k', t)] }, alice.access_token)).status).toBe(200);
        expect((await rpc('compact_logs', { vault_id }, alice.access_token)).body).toMatchObject({ removed: 2 });

        // Logical decoding reads WAL only up to what is flushed, and the test stack commits with
        // synchronous_commit=off. A synchronous commit of a transaction that wrote nothing flushes
        // nothing (PostgreSQL flushes at commit only when the transaction wrote WAL): that was this
        // test's flake. A non-transactional logical message with flush = true (PostgreSQL 17) writes
        // WAL and flushes it, and with it every earlier record.
        await sql`select pg_logical_emit_message(false, 'haex-test', 'flush', true)`;
        // pgoutput names each relation it sends a change of in a Relation message ('R', namespace, name).
        realtime = await decode('supabase_realtime');
        controlled = await decode(control);
      }
      expect(controlled.includes('sync_logs')).toBe(true); // the decoding sees the deletes and inserts...
      expect(controlled.includes('vaults')).toBe(true);
      expect(realtime.includes('sync_logs')).toBe(false);  // ...which supabase_realtime does not carry
      expect(realtime.includes('vaults')).toBe(false);
      for (const id of vaultIds) expect(realtime.includes(id)).toBe(false);
    } finally {
      await sql`select pg_drop_replication_slot(${slot}) where exists (select from pg_replication_slots where slot_name = ${slot})`.catch(() => {});
      await sql.unsafe(`drop publication if exists ${control}`);
      sql.release();
    }
  });
});
