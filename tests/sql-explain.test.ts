/**
 * The pull hot path plans as an ordered index range scan: pull_logs is inlined into the query
 * PostgREST 12 issues (no Function Scan of pull_logs) and reads sync_logs through an index on
 * (…, vault_id, sequence) — the primary key, or the RLS index (author_id, vault_id, sequence) — with
 * no Sort and never a Seq Scan; on a vault of 60,000 logs, as role authenticated with the owner's
 * claims, for custom and generic (prepared) plans. A control shows that the checks do catch a
 * non-inlined function.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { StackUser } from '../stack/users.ts';
import { adminSql, asUser, newUser, rpc, stack } from './support/stack.ts';

const ROWS = 60_000;

/** The statement PostgREST 12.0.2 sends for POST /rpc/pull_logs (taken from the server log), $1 = the JSON body. */
const postgrestPull = (fn = 'pull_logs') => `
  WITH pgrst_source AS (SELECT "pgrst_call".* FROM (SELECT $1::json AS json_data) pgrst_payload,
    LATERAL (SELECT CASE WHEN json_typeof(pgrst_payload.json_data) = 'array' THEN pgrst_payload.json_data
                         ELSE json_build_array(pgrst_payload.json_data) END AS val) pgrst_uniform_json,
    LATERAL (SELECT "vault_id", "after_sequence", "max_count" FROM json_to_recordset(pgrst_uniform_json.val)
             AS _("vault_id" uuid, "after_sequence" bigint, "max_count" integer) LIMIT 1) pgrst_body ,
    LATERAL "public"."${fn}"("vault_id" := pgrst_body."vault_id", "after_sequence" := pgrst_body."after_sequence",
                             "max_count" := pgrst_body."max_count") pgrst_call)
  SELECT null::bigint AS total_result_set, pg_catalog.count(_postgrest_t) AS page_total,
         coalesce(json_agg(_postgrest_t), '[]') AS body,
         nullif(current_setting('response.headers', true), '') AS response_headers,
         nullif(current_setting('response.status', true), '') AS response_status, '' AS response_inserted
  FROM (SELECT "record".* FROM "pgrst_source" AS "record" LIMIT $2 OFFSET $3) _postgrest_t`;

interface PlanNode { 'Node Type': string; 'Relation Name'?: string; 'Index Name'?: string; 'Function Name'?: string; Plans?: PlanNode[] }
const nodes = (plan: PlanNode): PlanNode[] => [plan, ...(plan.Plans ?? []).flatMap(nodes)];

/** The lowest Limit above the sync_logs scan: what bounds the rows read to the page. */
function pageLimit(plan: PlanNode): PlanNode | undefined {
  const below = (n: PlanNode) => nodes(n).some((c) => c['Relation Name'] === 'sync_logs');
  const limits = nodes(plan).filter((n) => n['Node Type'] === 'Limit' && below(n));
  return limits.find((l) => !nodes(l).slice(1).some((c) => limits.includes(c)));
}

/** A summary of the plan that the assertions read. */
function shape(plan: PlanNode) {
  const all = nodes(plan);
  const limit = pageLimit(plan);
  return {
    seqScans: all.filter((n) => n['Node Type'] === 'Seq Scan').map((n) => n['Relation Name']),
    // A Sort under the page's Limit would sort the vault's logs before cutting the page; above it, at
    // most the page's rows are ordered.
    sortsUnderLimit: limit ? nodes(limit).filter((n) => n['Node Type'] === 'Sort').length : -1,
    functionScans: all.filter((n) => n['Node Type'] === 'Function Scan').map((n) => n['Function Name']),
    syncLogsScans: all.filter((n) => n['Relation Name'] === 'sync_logs')
      .map((n) => `${n['Node Type']} using ${n['Index Name']
        ?? nodes(n).filter((c) => c['Node Type'] === 'Bitmap Index Scan').map((c) => c['Index Name']).join(' + ')}`),
  };
}
const inlined = { seqScans: [], sortsUnderLimit: 0, functionScans: ['json_to_recordset'], syncLogsScans: ['Index Scan using sync_logs_pkey'] };
/** The two indexes that give an ordered (vault_id, sequence) range: the primary key, or the RLS index (author_id, vault_id, sequence). */
const RANGE_SCAN = /^Index (Only )?Scan using (sync_logs_pkey|sync_logs_author_id_vault_id_sequence_idx)$/;

let owner: StackUser;
let vaultId: string;

beforeAll(async () => {
  owner = await newUser('explain');
  vaultId = randomUUID();
  const key = randomBytes(32).toString('base64');
  expect((await rpc('create_vault', { vault_id: vaultId, encrypted_vault_key: key, salt: key, nonce: key }, owner.access_token)).status).toBe(200);
  // Fast bulk load as superuser (bypasses push_logs on purpose), keeping the vault row consistent.
  const sql = adminSql();
  await sql`insert into public.sync_logs (vault_id, sequence, id, author_id, device_id, encrypted_data, nonce, haex_timestamp)
            select ${vaultId}, g, gen_random_uuid(), ${owner.id}, 'bulk', repeat('QUJD', 40), 'bm9uY2U=', g::text
            from generate_series(1, ${ROWS}) g`;
  await sql`update public.vaults set last_sequence = ${ROWS} where id = ${vaultId}`;
  await sql`analyze public.sync_logs`;
}, 120_000);

async function explainAsOwner(query: string, params: unknown[], generic = false) {
  return asUser(owner, async (sql) => {
    if (generic) await sql`set local plan_cache_mode = force_generic_plan`;
    const [row] = await sql.unsafe(`explain (format json) ${query}`, params as any[]);
    return (row!['QUERY PLAN'] as { Plan: PlanNode }[])[0]!.Plan;
  });
}

describe(`pull_logs on a vault of ${ROWS} logs`, () => {
  const body = (after: number, max: number) => ({ vault_id: vaultId, after_sequence: after, max_count: max });

  it.each([
    ['from the start', 0, 1000],
    ['from the middle', 30_000, 1000],
    ['near the end', 59_990, 100],
  ])('PostgREST\'s query shape, %s: inlined, index scan on the primary key, no seq scan', async (_name, after, max) => {
    const plan = shape(await explainAsOwner(postgrestPull(), [body(after, max), 1000, 0]));
    expect({ ...plan, syncLogsScans: [] }).toEqual({ ...inlined, syncLogsScans: [] });
    expect(plan.syncLogsScans).toHaveLength(1);
    expect(plan.syncLogsScans[0]).toMatch(RANGE_SCAN);
  });

  it('as a prepared statement with a generic plan (PostgREST prepares its statements)', async () => {
    const plan = shape(await explainAsOwner(postgrestPull(), [body(30_000, 1000), 1000, 0], true));
    expect({ ...plan, syncLogsScans: [] }).toEqual({ ...inlined, syncLogsScans: [] });
    expect(plan.syncLogsScans).toHaveLength(1);
    expect(plan.syncLogsScans[0]).toMatch(RANGE_SCAN);
  });

  it.each([0, 30_000, 59_500])('a direct call with literal arguments (after %i): inlined, a range scan', async (after) => {
    const plan = shape(await explainAsOwner(`select * from public.pull_logs('${vaultId}', ${after}, 1000)`, []));
    expect({ seqScans: plan.seqScans, functionScans: plan.functionScans }).toEqual({ seqScans: [], functionScans: [] });
    expect(plan.syncLogsScans).toHaveLength(1);
    // With constants the planner knows how few rows remain near the end and may choose a bitmap scan
    // of the same (vault_id, sequence) range plus a top-N sort of at most a page: still only the range.
    expect(plan.syncLogsScans[0]).toMatch(
      /^(Index Scan|Index Only Scan|Bitmap Heap Scan) using (sync_logs_pkey|sync_logs_author_id_vault_id_sequence_idx)$/);
  });

  it('reads exactly the page and the one row that tells has_more (EXPLAIN ANALYZE: rows from the index = max_count + 1)', async () => {
    const plan = await asUser(owner, async (sql) => {
      const [row] = await sql.unsafe(`explain (analyze, format json) ${postgrestPull()}`, [body(12_345, 500), 1000, 0]);
      return (row!['QUERY PLAN'] as { Plan: PlanNode }[])[0]!.Plan;
    });
    const scan = nodes(plan).find((n) => n['Relation Name'] === 'sync_logs') as PlanNode & { 'Actual Rows': number; 'Actual Loops': number };
    expect([scan['Actual Rows'], scan['Actual Loops']]).toEqual([501, 1]);
  });

  it('control: the same function with a SET clause is not inlined, and the checks say so', async () => {
    // Created and dropped inside a rolled-back transaction; never visible to anyone else.
    const plan = await asUser(owner, async (sql) => {
      await sql`reset role`;
      await sql.unsafe(`create function public.pull_logs_not_inlined(vault_id uuid, after_sequence bigint default 0, max_count int default 100)
        returns setof public.sync_logs language sql stable set search_path = '' as $$
          select l.* from public.sync_logs l where l.vault_id = pull_logs_not_inlined.vault_id
            and l.sequence > pull_logs_not_inlined.after_sequence order by l.sequence limit pull_logs_not_inlined.max_count $$`);
      await sql`select set_config('role', 'authenticated', true)`;
      const [row] = await sql.unsafe(`explain (format json) ${postgrestPull('pull_logs_not_inlined')}`, [body(0, 1000), 1000, 0]);
      return (row!['QUERY PLAN'] as { Plan: PlanNode }[])[0]!.Plan;
    });
    expect(shape(plan).functionScans).toContain('pull_logs_not_inlined');
    expect(shape(plan)).not.toEqual(inlined);
  });

  it('pulls the whole vault through PostgREST in pages of 1000, contiguously', async () => {
    const started = Date.now();
    let cursor = 0;
    let pages = 0;
    for (;;) {
      const res = await fetch(`${stack.POSTGREST_URL}/rpc/pull_logs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${owner.access_token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body(cursor, 1000)),
      });
      expect(res.status).toBe(200);
      const rows = await res.json() as { sequence: number; has_more: boolean; next_sequence: number }[];
      expect(rows[0]!.sequence).toBe(cursor + 1);
      expect(rows[rows.length - 1]!.sequence).toBe(cursor + rows.length);
      cursor += rows.length;
      pages++;
      expect(rows[0]!.next_sequence).toBe(cursor);
      if (!rows[0]!.has_more) break;
    }
    const seconds = (Date.now() - started) / 1000;
    console.log(`pull: ${cursor} logs in ${pages} pages in ${seconds.toFixed(2)} s (${Math.round(cursor / seconds)} logs/s, one client)`);
    expect(cursor).toBe(ROWS);
  });
});
