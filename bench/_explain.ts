import postgres from 'postgres';
import { startThrowawayStack } from '../tests/support/throwaway-stack.ts';
import { fillVaultSql, newSession } from './workloads.ts';
const stack = await startThrowawayStack({ quiet: true });
const sql = postgres(stack.info.DB_URL, { max: 1, onnotice: () => {} });
const session = await newSession(sql, { dbUrl: stack.info.DB_URL, jwtSecret: stack.info.JWT_SECRET, apiUrl: stack.info.API_URL }, 'x');
await fillVaultSql(sql, session, 5000);
const q = (agg: string) => `
  select concat('{"logs":[', ${agg},
                '],"hasMore":', coalesce(bool_or(not p.in_page), false)::text,
                ',"nextSequence":', case when bool_or(not p.in_page) then max(p.sequence) filter (where p.in_page) else 5000 end, '}')
  from (
    select r.wire, r.sequence,
           row_number() over w <= 1000
             and sum(r.bytes) over w - r.bytes < 8388608 as in_page
    from (
      select l.wire, l.sequence,
             octet_length(l.encrypted_data) + octet_length(l.nonce) + octet_length(l.haex_timestamp)
               + coalesce(octet_length(l.device_id), 0) + coalesce(octet_length(l.record_key), 0) as bytes
      from public.sync_logs as l
      where l.vault_id = '${session.vaultId}' and l.sequence > 1000 and l.sequence <= 5000
      order by l.sequence limit 1001
    ) as r
    window w as (order by r.sequence rows between unbounded preceding and current row)
  ) as p`;
const ordered = q(`string_agg(p.wire, ',' order by p.sequence) filter (where p.in_page)`);
const unordered = q(`string_agg(p.wire, ',') filter (where p.in_page)`);
for (const [name, text] of [['ordered', ordered], ['unordered', unordered]]) {
  const plan = await sql.unsafe(`explain (analyze, verbose, costs off, timing off) ${text}`);
  console.log(name); for (const r of plan) console.log('  ', r['QUERY PLAN']);
}
for (let round = 0; round < 3; round++) for (const [name, text] of [['ordered', ordered], ['unordered', unordered]]) {
  const t0 = performance.now(); for (let i = 0; i < 200; i++) await sql.unsafe(text); console.log(name, ((performance.now() - t0) / 200).toFixed(3), 'ms');
}
await sql.end(); await stack.dispose();
