/**
 * The migration from a database to the declarative files: pg-delta's plan, applied to that (throwaway)
 * database and planned again until nothing is left.
 *
 * Why more than one round: pg-delta plans as if a new object got only what its CREATE gives it, but on
 * Supabase the default privileges of schema public grant every new function and table to anon,
 * authenticated and service_role. Its first plan for a new function therefore lacks the
 * `revoke ... from anon` the file implies; the second round, planned against the database that now
 * has the function, adds it. The result provably reaches the files (the last plan is empty).
 */
import postgres from 'postgres';
import type { PgDelta } from './pgdelta.ts';

export interface Segment { sql: string; transactional: boolean }

export const MAX_ROUNDS = 3;

/** Follow-up rounds folded into the last transactional segment (one migration file where possible). */
function merge(segments: Segment[], more: Segment[]): Segment[] {
  const merged = segments.map((s) => ({ ...s }));
  for (const segment of more) {
    const last = merged.at(-1);
    if (last?.transactional && segment.transactional) {
      last.sql = `${last.sql.trimEnd()}\n\n${segment.sql.replace(/^set local check_function_bodies = off;\s*/i, '').trim()}\n`;
    } else {
      merged.push({ ...segment });
    }
  }
  return merged;
}

/**
 * Applies the rounds to the database at `url` (changing it!) and returns the SQL, empty when the
 * database already matches `dir`. `maxRounds` 1 gives pg-delta's plan alone.
 */
export async function generateMigration(pgdelta: PgDelta, dir: string, url: string,
  { maxRounds = MAX_ROUNDS, log = (_line: string) => {} } = {}): Promise<Segment[]> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    let segments: Segment[] = [];
    for (let round = 1; round <= maxRounds; round++) {
      log(`round ${round}: planning the database -> ${dir} ...`);
      const { plan, planPath } = await pgdelta.plan(dir, url);
      if (plan.actions.length === 0) return segments;
      log(`round ${round}: ${plan.actions.length} action(s); applying them to the throwaway database`);
      for (const action of plan.actions.filter((a) => a.verb === 'drop' || a.dataLoss === 'destructive')) {
        log(`  WARNING destructive: ${action.sql.trim().split('\n')[0]}`);
      }
      const rendered = await pgdelta.render(planPath);
      for (const segment of rendered) {
        if (segment.transactional) await sql.begin((tx) => tx.unsafe(segment.sql));
        else await sql.unsafe(segment.sql);
      }
      segments = merge(segments, rendered);
    }
    if (maxRounds < MAX_ROUNDS) return segments;
    const { plan } = await pgdelta.plan(dir, url);
    if (plan.actions.length > 0) {
      throw new Error(`the plan does not converge after ${maxRounds} rounds; still left:\n`
        + plan.actions.map((a) => `  ${a.sql.trim()}`).join('\n'));
    }
    return segments;
  } finally {
    await sql.end({ timeout: 2 });
  }
}
