/**
 * Is this run's figure comparable? (issue 25, item 5.) Every workload records the 1-minute load
 * average before it starts and after it ends. Before a workload, the bench waits (bounded by
 * BENCH_SETTLE_SECONDS, default 120) for the load left by the previous workload (and by the stack's
 * start and the fills) to fall to the limit, so that "before" measures the rest of the machine, not
 * this bench's own last step: the 1-minute average decays with a time constant of a minute, so a
 * load of 3-4 takes 60-90 s to fall below 1.5. No wait when it already is. "After"
 * includes the workload itself (our stack and generator keep both cores busy), so it is recorded but
 * judged only by the reader. A workload that starts above LOAD_LIMIT (1.5) is NOT comparable: its
 * rows say so, the run's header says so, and BENCH_SAVE_BASELINE refuses to save such a run.
 */
import os from 'node:os';
import type { ResultRow } from './stats.ts';

export const LOAD_LIMIT = 1.5;

export interface LoadWindow { workload: string; before: number; after: number; settledMs: number; comparable: boolean }

const load1 = () => os.loadavg()[0]!;

/** Waits (polling every 2 s, at most `settleSeconds`) until the 1-minute load is at most LOAD_LIMIT; returns the wait. */
export async function settle(settleSeconds: number, signal?: () => boolean): Promise<number> {
  const started = performance.now();
  while (load1() > LOAD_LIMIT && performance.now() - started < settleSeconds * 1000 && !signal?.()) {
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
  return performance.now() - started;
}

/**
 * Runs one workload between two load readings and marks the rows it added (rows[from..]) with them:
 * details `load before`/`load after`, and the verdict of a non-comparable row as `n/a` with a note.
 */
export async function withLoad<T>(workload: string, rows: ResultRow[], windows: LoadWindow[], settleSeconds: number,
  run: () => Promise<T>): Promise<T> {
  const settledMs = await settle(settleSeconds);
  const before = load1();
  const from = rows.length;
  try {
    return await run();
  } finally {
    const after = load1();
    const comparable = before <= LOAD_LIMIT;
    windows.push({ workload, before, after, settledMs, comparable });
    for (const row of rows.slice(from)) markRow(row, before, after, comparable);
  }
}

export function markRow(row: ResultRow, before: number, after: number, comparable: boolean): void {
  row.details = { ...row.details, 'load before': Math.round(before * 100) / 100, 'load after': Math.round(after * 100) / 100 };
  if (!comparable) {
    row.comparable = false;
    row.note = [`NOT COMPARABLE: load ${before.toFixed(2)} > ${LOAD_LIMIT} at start`, row.note].filter(Boolean).join('; ');
  }
}

/** The run's one-line verdict on its own conditions. */
export function loadSummary(windows: LoadWindow[]): string {
  const bad = windows.filter((w) => !w.comparable);
  const span = windows.map((w) => `${w.workload} ${w.before.toFixed(2)}->${w.after.toFixed(2)}`).join(', ');
  return bad.length === 0
    ? `load average before each workload at most ${LOAD_LIMIT}: this run is comparable (${span})`
    : `NOT COMPARABLE: ${bad.length} of ${windows.length} workloads started above load ${LOAD_LIMIT} `
      + `(${bad.map((w) => w.workload).join(', ')}); no README figure may come from this run (${span})`;
}

export const runIsComparable = (windows: LoadWindow[]) => windows.every((w) => w.comparable);
