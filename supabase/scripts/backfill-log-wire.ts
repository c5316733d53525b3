/**
 * `npm run db:backfill-wire -- <database url> [batch size] [after vault_id:sequence]`: fills
 * sync_logs.wire (issue 25) for logs stored before it, in batches, each its own short transaction
 * (autocommit), through private.backfill_log_wire. Never a lock on the table: row locks on one batch
 * at a time (skip locked), lock_timeout 1 s. Resumable: it prints the key after every batch; start
 * again with that key (or from the start: done rows are skipped). Until it has run, pull_page serves
 * those logs through its fallback (slower, same bytes), so it may run whenever the database is quiet.
 */
import postgres from 'postgres';

const [url, batchArg, afterArg] = process.argv.slice(2);
if (!url) {
  console.error('usage: npm run db:backfill-wire -- <database url> [batch size, default 5000] [after vault_id:sequence]');
  process.exit(2);
}
const batch = Number(batchArg ?? 5000);
let [afterVault, afterSequence] = afterArg ? afterArg.split(':') : [null, null];
const sql = postgres(url, { max: 1, onnotice: () => {} });
try {
  await sql`set lock_timeout = '1s'`;
  let total = 0;
  const started = performance.now();
  for (;;) {
    const [step] = await sql<Array<{ updated: string; last_vault_id: string | null; last_sequence: string | null }>>`
      select updated::text, last_vault_id, last_sequence::text
      from private.backfill_log_wire(${afterVault ?? null}::uuid, ${afterSequence ?? null}::bigint, ${batch})`;
    if (!step || step.last_vault_id === null) break;
    total += Number(step.updated);
    afterVault = step.last_vault_id;
    afterSequence = step.last_sequence;
    console.log(`${total} logs filled; resume after ${afterVault}:${afterSequence} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  }
  const left = (await sql<Array<{ left: number }>>`select count(*)::int as left from public.sync_logs where wire is null`)[0]?.left;
  console.log(`done: ${total} logs filled, ${left} without wire (logs a concurrent update held are left for the next run)`);
} finally {
  await sql.end({ timeout: 5 });
}
