/**
 * The goals `npm run bench` judges (issue 20), as data: per workload and target, a minimum ratio to
 * the SQL floor (throughput) or a maximum p50 (latency). A new workload or target variant (a shared
 * vault, a session check...) adds its row here and calls throughputRow / latencyRow with goalOf().
 * The gateway (our stand-in for Supabase's Kong) is held to PostgREST's goals: it is PostgREST as a
 * supabase-js client reaches it.
 */
export interface Goal {
  /** throughput: value / floor must be at least this */
  minRatio?: number;
  /** latency: p50 must be at most this many ms */
  maxMs?: number;
}

// Issue 25's goals (they supersede issue 20's W1 edge 0.45 and W2 0.5 / 0.4).
export const GOALS: Record<string, Record<string, Goal>> = {
  'W1 push': { 'postgrest-direct': { minRatio: 0.66 }, 'postgrest-gateway': { minRatio: 0.66 }, 'edge-sync': { minRatio: 0.5 } },
  'W2 pull': { 'postgrest-direct': { minRatio: 0.6 }, 'postgrest-gateway': { minRatio: 0.6 }, 'edge-sync': { minRatio: 0.5 } },
  'W3 latency': { 'postgrest-direct': { maxMs: 2.5 }, 'postgrest-gateway': { maxMs: 2.5 }, 'edge-sync': { maxMs: 4 } },
};

export const goalOf = (workload: string, target: string): Goal => GOALS[workload]?.[target] ?? {};

/** W9: a page's time at a deep cursor of a big vault may exceed the small vault's by at most this fraction. */
export const DEEP_CURSOR_MAX_EXCESS = 0.1;
/** W5 and the shared-vault rows may fall by at most this fraction against the committed previous results. */
export const NO_FALL_MAX = 0.1;
