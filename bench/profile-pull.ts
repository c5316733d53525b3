/**
 * `tsx bench/profile-pull.ts`: the shapes of a pull page, measured side by side on one throwaway stack.
 * One vault of PROFILE_LOGS (100,000) synthetic logs; each shape of bench/sql/pull_candidates.sql (and
 * public.pull_logs as it is: G) is read through PostgREST's own port in pages of 1,000, PROFILE_RUNS (3)
 * times in turn, against the floor statement; then the statement PostgREST sent for each (from
 * pg_stat_statements) is run again under EXPLAIN (ANALYZE, BUFFERS) as the user, and printed.
 * PROFILE_SHAPES=a,b picks shapes; PROFILE_EXPLAIN=0 skips the plans.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { startThrowawayStack } from '../tests/support/throwaway-stack.ts';
import { postJson, sqlFloor, type Session } from './targets.ts';
import { claimsOf, fillVaultSql, newSession } from './workloads.ts';
import { median } from './stats.ts';

const LOGS = Number(process.env.PROFILE_LOGS ?? 100_000);
const RUNS = Number(process.env.PROFILE_RUNS ?? 3);
const here = path.dirname(fileURLToPath(import.meta.url));

interface Shape {
  name: string;
  fn: string;
  /** The page's log count and cursor from the parsed answer. */
  read(answer: unknown): { count: number; next: number; more: boolean };
}
const rowsPerLog = (answer: unknown) => {
  const rows = answer as Array<{ id: string | null; has_more: boolean; next_sequence: number }>;
  return { count: rows[0]?.id === null ? 0 : rows.length, next: rows[0]!.next_sequence, more: rows[0]!.has_more };
};
const onePage = (answer: unknown) => {
  const page = (Array.isArray(answer) ? answer[0] : answer) as { logs: unknown[]; has_more: boolean; next_sequence: number };
  return { count: page.logs.length, next: page.next_sequence, more: page.has_more };
};
const SHAPES: Shape[] = [
  { name: 'A before: setof, a row per log, state on each row (2 windows)', fn: 'cand_per_row', read: rowsPerLog },
  { name: 'B composite (not setof), logs cand_log[], sql (2 windows)', fn: 'cand_composite', read: onePage },
  { name: 'C composite (not setof), logs json, sql (2 windows)', fn: 'cand_composite_json', read: onePage },
  { name: 'D composite (not setof), logs cand_log[], plpgsql (2 windows)', fn: 'cand_plpgsql', read: onePage },
  { name: 'E setof one row, logs cand_log[], inlined (2 windows)', fn: 'cand_setof_one', read: onePage },
  { name: 'F setof one row, logs cand_log[], inlined (1 window)', fn: 'cand_composite_one', read: onePage },
  { name: 'G = pull_logs: setof one row, logs sync_logs[], inlined (1 window)', fn: 'pull_logs', read: onePage },
];

const stack = await startThrowawayStack({ quiet: true });
try {
  const sql = postgres(stack.info.DB_URL, { max: 1, onnotice: () => {} });
  const users = { dbUrl: stack.info.DB_URL, jwtSecret: stack.info.JWT_SECRET, apiUrl: stack.info.API_URL };
  await sql`create extension if not exists pg_stat_statements schema extensions`;
  await sql.unsafe(readFileSync(path.join(here, 'sql', 'pull_candidates.sql'), 'utf8'));
  const extra = process.env.PROFILE_EXTRA_SQL; // a file with more candidates (cand_* functions)
  if (extra) await sql.unsafe(readFileSync(extra, 'utf8'));
  const session: Session = await newSession(sql, users, 'prof-pull');
  await fillVaultSql(sql, session, LOGS);
  await new Promise((resolve) => setTimeout(resolve, 500)); // PostgREST's schema reload
  const base = `http://127.0.0.1:${stack.postgrestPort}/rpc`;
  const headers = { authorization: `Bearer ${session.token}` };
  const picked = process.env.PROFILE_SHAPES?.split(',');
  const shapes = SHAPES.filter((s) => !picked || picked.includes(s.fn));
  const floor = sqlFloor(stack.info.DB_URL, 1);

  const pullAll = async (shape: Shape) => {
    const url = new URL(`${base}/${shape.fn}`);
    let after = 0, total = 0;
    const t = performance.now();
    for (;;) {
      const page = shape.read(await postJson(url, headers, JSON.stringify({ vault_id: session.vaultId, after_sequence: after, max_count: 1000 })));
      total += page.count;
      after = page.next;
      if (!page.more) break;
    }
    if (total !== LOGS) throw new Error(`${shape.fn}: ${total} logs, expected ${LOGS}`);
    return LOGS / ((performance.now() - t) / 1000);
  };
  const floorAll = async () => {
    let after = 0;
    const t = performance.now();
    for (;;) {
      const page = await floor.pull(session, after, 1000);
      after = page.lastSequence;
      if (page.count < 1000) break;
    }
    return LOGS / ((performance.now() - t) / 1000);
  };
  for (const shape of shapes) await pullAll(shape); // warm-up (plans, caches)
  const results = new Map<string, number[]>([['floor', []], ...shapes.map((s): [string, number[]] => [s.fn, []])]);
  for (let run = 0; run < RUNS; run++) {
    results.get('floor')!.push(await floorAll());
    for (const shape of shapes) results.get(shape.fn)!.push(await pullAll(shape));
  }
  const floorRate = median(results.get('floor')!);
  console.log(`\n${LOGS} logs in pages of 1,000, median of ${RUNS} runs (floor ${Math.round(floorRate)} logs/s)`);
  console.table([{ shape: 'floor', 'logs/s': Math.round(floorRate), 'x floor': 1 },
    ...shapes.map((s) => {
      const rate = median(results.get(s.fn)!);
      return { shape: s.name, 'logs/s': Math.round(rate), 'x floor': Math.round((rate / floorRate) * 100) / 100 };
    })]);

  if (process.env.PROFILE_EXPLAIN !== '0') {
    await sql`select extensions.pg_stat_statements_reset()`;
    for (const shape of shapes) {
      await postJson(new URL(`${base}/${shape.fn}`), headers,
        JSON.stringify({ vault_id: session.vaultId, after_sequence: Math.floor(LOGS / 2), max_count: 1000 }));
    }
    const claims = claimsOf(session);
    for (const shape of shapes) {
      const [statement] = await sql<{ query: string }[]>`
        select query from extensions.pg_stat_statements
        where query like ${`%"public"."${shape.fn}"(%`} and query not like '%pg_stat_statements%' limit 1`;
      if (!statement) continue;
      const plan = await sql.begin(async (tx) => {
        await tx`select set_config('request.jwt.claims', ${claims}, true), set_config('role', 'authenticated', true)`;
        // PostgREST 12 binds the body ($1, json) and max_rows' LIMIT / OFFSET ($2, $3)
        await tx.unsafe(`prepare q(json, bigint, bigint) as ${statement.query}`);
        const body = JSON.stringify({ vault_id: session.vaultId, after_sequence: Math.floor(LOGS / 2), max_count: 1000 });
        const lines = await tx.unsafe(`explain (analyze, buffers, costs off) execute q('${body}', 1001, 0)`);
        await tx.unsafe('deallocate q');
        return lines.map((l) => (l as Record<string, string>)['QUERY PLAN']).join('\n');
      });
      console.log(`\n### ${shape.name}\n\n${statement.query.replace(/\s+/g, ' ')}\n\n${plan}`);
    }
  }
  await floor.close();
  await sql.end();
} finally {
  await stack.dispose();
}
