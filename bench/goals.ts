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

export const GOALS: Record<string, Record<string, Goal>> = {
  'W1 push': { 'postgrest-direct': { minRatio: 0.66 }, 'postgrest-gateway': { minRatio: 0.66 }, 'edge-sync': { minRatio: 0.45 } },
  'W2 pull': { 'postgrest-direct': { minRatio: 0.5 }, 'postgrest-gateway': { minRatio: 0.5 }, 'edge-sync': { minRatio: 0.4 } },
  'W3 latency': { 'postgrest-direct': { maxMs: 2.5 }, 'postgrest-gateway': { maxMs: 2.5 }, 'edge-sync': { maxMs: 4 } },
};

export const goalOf = (workload: string, target: string): Goal => GOALS[workload]?.[target] ?? {};
