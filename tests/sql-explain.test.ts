/**
 * The pull hot path plans as an ordered index range scan: pull_logs is inlined into the statements
 * PostgREST 12 really sends (no Function Scan of pull_logs) and reads sync_logs through an index on
 * (…, vault_id, sequence) — the primary key, or the RLS index (author_id, vault_id, sequence) — with
 * no Sort below the page's Limit and never a Seq Scan; on a vault of 60,000 logs, as role
 * authenticated with the owner's claims, for custom and generic (prepared) plans.
 * The statement is not copied by hand: the test pulls once as supabase-js does (POST
 * /rpc/pull_logs) through a PostgREST of its own whose connections log their statements, and
 * explains exactly the statement and parameter values PostgreSQL logged for that request. A control shows that the checks do catch a
 * non-inlined function. The Edge Function reads pull_page (issue 25), whose reads are counted below
 * (pg_stat_xact_user_tables: one index scan, the page and the row that tells hasMore).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../stack/config.ts';
import { resolveJwks } from '../stack/jwt.ts';
import { startPostgrest } from '../stack/postgrest.ts';
import { freePort } from '../stack/stack.ts';
import type { StackUser } from '../stack/users.ts';
import { adminSql, asUser, newUser, rpc, stack } from './support/stack.ts';

const ROWS = 60_000;

interface Logged { query: string; params: Array<string | null> }

/** `$1 = '…', $2 = NULL, …` of a log line's DETAIL. */
function parseParams(detail: string): Array<string | null> {
  const out: Array<string | null> = [];
  for (const m of detail.matchAll(/\$(\d+) = (?:NULL|'((?:[^']|'')*)')/g)) out[Number(m[1]) - 1] = m[2] === undefined ? null : m[2].replace(/''/g, "'");
  return out;
}

/**
 * The statements (with parameter values) PostgreSQL logs for the requests `run` sends to `postgrestUrl`:
 * a PostgREST of this file's own, whose connections alone log their statements. It connects as the
 * superuser with `log_statement = all` as a startup option (only a superuser may set it; PostgREST
 * then switches to the role of each request's JWT as it does on the stack), so no other test's
 * statements reach the log and nothing of the cluster's configuration changes. Its PostgREST
 * settings are the stack's (supabase/config.toml), so it sends the statement the stack's would.
 */
async function loggedStatements(run: (postgrestUrl: string) => Promise<void>): Promise<Logged[]> {
  const logFile = path.join(stack.DATA_DIR, 'logs', 'postgres.log');
  const start = statSync(logFile).size;
  const config = loadConfig();
  // Percent-encoded by hand: URLSearchParams would write the space as '+', which libpq keeps.
  const dbUrl = `${stack.DB_URL}${stack.DB_URL.includes('?') ? '&' : '?'}options=${encodeURIComponent('-c log_statement=all')}`;
  const port = await freePort();
  const postgrest = await startPostgrest({
    dbUrl, port, adminPort: await freePort(), jwtSecret: JSON.stringify(resolveJwks(stack.JWT_SECRET, stack.SIGNING_KEYS)),
    schemas: config.exposedSchemas, extraSearchPath: config.extraSearchPath, maxRows: config.maxRows,
    logFile: path.join(mkdtempSync(path.join(tmpdir(), 'sql-explain-')), 'postgrest.log'),
  });
  try {
    await run(`http://127.0.0.1:${port}`);
  } finally {
    await postgrest.stop();
  }
  const lines = readFileSync(logFile).subarray(start).toString('utf8').split('\n');
  const out: Logged[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /LOG:  execute [^:]+: (.*)$/.exec(lines[i]!);
    if (!m) continue;
    const detail = /DETAIL:  Parameters: (.*)$/.exec(lines[i + 1] ?? '');
    out.push({ query: m[1]!, params: detail ? parseParams(detail[1]!) : [] });
  }
  return out;
}

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
/** What PostgREST sent for the pull through supabase-js's rpc. */
let sent: Logged;

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

  const ours = (lines: Logged[]) => lines.filter((l) => l.query.includes('"public"."pull_logs"') && (l.params[0] ?? '').includes(vaultId));
  const logged = await loggedStatements(async (postgrestUrl) => {
    const headers = { authorization: `Bearer ${owner.access_token}`, 'content-type': 'application/json' };
    const rpcRes = await fetch(`${postgrestUrl}/rpc/pull_logs`, { method: 'POST', headers,
      body: JSON.stringify({ vault_id: vaultId, after_sequence: 30_000, max_count: 1000 }) });
    expect(rpcRes.status).toBe(200);
    await rpcRes.arrayBuffer();
  });
  sent = ours(logged).find((l) => l.params[0]!.includes('"max_count":1000'))!;
  expect(sent, 'the rpc pull was logged').toBeDefined();
}, 120_000);

/** A logged statement with its JSON body ($1, typed json as PostgREST sends it) set to another page. */
const withBody = (statement: Logged, after: number, max: number, fn = 'pull_logs') => ({
  query: statement.query.replace('"public"."pull_logs"', `"public"."${fn}"`),
  params: (sql: { typed: (value: unknown, oid: number) => unknown }) => statement.params.map((p, i) => i === 0
    ? sql.typed({ vault_id: vaultId, after_sequence: after, max_count: max }, 114) : p),
});

type Params = unknown[] | ((sql: any) => unknown[]);
async function explainAsOwner(query: string, params: Params, generic = false, analyze = false) {
  return asUser(owner, async (sql) => {
    if (generic) await sql`set local plan_cache_mode = force_generic_plan`;
    const values = typeof params === 'function' ? params(sql) : params;
    const [row] = await sql.unsafe(`explain (${analyze ? 'analyze, ' : ''}format json) ${query}`, values as any[]);
    return (row!['QUERY PLAN'] as { Plan: PlanNode }[])[0]!.Plan;
  });
}

describe(`pull_logs on a vault of ${ROWS} logs`, () => {
  it.each([
    ['from the start', 0, 1000],
    ['from the middle', 30_000, 1000],
    ['near the end', 59_990, 100],
  ] as const)('the statement PostgREST sent for the rpc pull, %s: inlined, index scan on the primary key, no seq scan', async (_name, after, max) => {
    const { query, params } = withBody(sent, after, max);
    const plan = shape(await explainAsOwner(query, params));
    expect({ ...plan, syncLogsScans: [] }).toEqual({ ...inlined, syncLogsScans: [] });
    expect(plan.syncLogsScans).toHaveLength(1);
    expect(plan.syncLogsScans[0]).toMatch(RANGE_SCAN);
  });

  it('the statement as a prepared statement with a generic plan (PostgREST prepares its statements)', async () => {
    const { query, params } = withBody(sent, 30_000, 1000);
    const plan = shape(await explainAsOwner(query, params, true));
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
    const { query, params } = withBody(sent, 12_345, 500);
    const plan = await explainAsOwner(query, params, false, true);
    const scan = nodes(plan).find((n) => n['Relation Name'] === 'sync_logs') as PlanNode & { 'Actual Rows': number; 'Actual Loops': number };
    expect([scan['Actual Rows'], scan['Actual Loops']]).toEqual([501, 1]);
  });

  it.each([0, 12_345, 59_990])('pull_page after %i reads one index range of sync_logs, exactly the page and the row that tells hasMore, and no seq scan', async (after) => {
    const read = await asUser(owner, async (sql) => {
      // This backend's table statistics not yet reported (they may hold earlier transactions' too):
      // the difference around the call is what pull_page read.
      const stats = async () => (await sql`select seq_scan::int, idx_scan::int, idx_tup_fetch::int from pg_stat_xact_user_tables
                                           where relid = 'public.sync_logs'::regclass`)[0]!;
      const before = await stats();
      const [{ page }] = await sql`select public.pull_page(${vaultId}, ${after}, 500)::text as page` as unknown as [{ page: string }];
      const after_ = await stats();
      return { logs: (JSON.parse(page) as { logs: unknown[] }).logs.length, seq_scan: after_.seq_scan - before.seq_scan,
        idx_scan: after_.idx_scan - before.idx_scan, idx_tup_fetch: after_.idx_tup_fetch - before.idx_tup_fetch };
    });
    const expected = Math.min(500, ROWS - after);
    expect(read).toEqual({ logs: expected, seq_scan: 0, idx_scan: 1, idx_tup_fetch: Math.min(501, ROWS - after) });
  });

  it('control: the same function with a SET clause is not inlined, and the checks say so', async () => {
    // Created and dropped inside a rolled-back transaction; never visible to anyone else.
    const plan = await asUser(owner, async (sql) => {
      await sql`reset role`;
      // pull_logs itself, renamed and given a SET clause
      const [{ def }] = await sql`select pg_get_functiondef('public.pull_logs(uuid, bigint, int)'::regprocedure) as def` as unknown as [{ def: string }];
      await sql.unsafe(def.replace(/\bpull_logs\b/g, 'pull_logs_not_inlined').replace(/\nAS \$function\$/, "\n SET search_path TO ''\nAS $function$"));
      await sql`select set_config('role', 'authenticated', true)`;
      const { query, params } = withBody(sent, 0, 1000, 'pull_logs_not_inlined');
      const [row] = await sql.unsafe(`explain (format json) ${query}`, params(sql) as any[]);
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
        body: JSON.stringify({ vault_id: vaultId, after_sequence: cursor, max_count: 1000 }),
      });
      expect(res.status).toBe(200);
      const [page, ...more] = await res.json() as { logs: { sequence: number }[]; has_more: boolean; next_sequence: number }[];
      expect(more).toEqual([]);
      const rows = page!.logs;
      expect(rows[0]!.sequence).toBe(cursor + 1);
      expect(rows[rows.length - 1]!.sequence).toBe(cursor + rows.length);
      cursor += rows.length;
      pages++;
      expect(page!.next_sequence).toBe(cursor);
      if (!page!.has_more) break;
    }
    const seconds = (Date.now() - started) / 1000;
    console.log(`pull: ${cursor} logs in ${pages} pages in ${seconds.toFixed(2)} s (${Math.round(cursor / seconds)} logs/s, one client)`);
    expect(cursor).toBe(ROWS);
  });
});
