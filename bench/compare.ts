/**
 * Figures that stay true: every run compares its ratios to the floor with the committed previous
 * results (bench/baseline.json, written by a full run with BENCH_SAVE_BASELINE=1 and committed with
 * the README's table) and prints every ratio that fell by more than 15 %: a throughput ratio that
 * dropped, a latency ratio (value / floor, higher is worse) that rose. Ratios, not absolute figures:
 * the machine is shared and its absolute speed drifts by tens of percent between runs.
 * A change that makes a ratio fall says why in its commit message.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { ResultRow } from './stats.ts';

export const FALL_THRESHOLD = 0.15;

export interface Baseline {
  date: string;
  note: string;
  rows: Array<Pick<ResultRow, 'workload' | 'target' | 'unit' | 'value' | 'ratio'>>;
}

export interface Fall { workload: string; target: string; previous: number; now: number; change: number }

/** How much worse each ratio got (a fraction; > 0 is worse), for rows present in both runs. */
export function falls(rows: ResultRow[], baseline: Baseline, threshold = FALL_THRESHOLD): Fall[] {
  const out: Fall[] = [];
  for (const row of rows) {
    const before = baseline.rows.find((b) => b.workload === row.workload && b.target === row.target);
    if (!before || typeof before.ratio !== 'number' || typeof row.ratio !== 'number' || before.ratio <= 0) continue;
    const higherIsBetter = row.unit !== 'ms';
    const change = higherIsBetter ? 1 - row.ratio / before.ratio : row.ratio / before.ratio - 1;
    if (change > threshold) out.push({ workload: row.workload, target: row.target, previous: before.ratio, now: row.ratio, change });
  }
  return out;
}

export function readBaseline(file: string): Baseline | undefined {
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as Baseline;
}

export function writeBaseline(file: string, rows: ResultRow[], note: string): void {
  const baseline: Baseline = {
    date: new Date().toISOString(), note,
    // Ratios to the floor, and W5's absolute figures (it has no floor; issue 25 checks that they do
    // not fall against this file).
    rows: rows.filter((r) => typeof r.ratio === 'number' || (r.workload.startsWith('W5') && typeof r.value === 'number'))
      .map((r) => ({ workload: r.workload, target: r.target, unit: r.unit, value: r.value,
        ratio: typeof r.ratio === 'number' ? Math.round(r.ratio * 1000) / 1000 : null })),
  };
  writeFileSync(file, `${JSON.stringify(baseline, null, 2)}\n`);
}

/** The lines bench prints: the falls, or that there were none. */
export function reportFalls(rows: ResultRow[], baseline: Baseline | undefined): string[] {
  if (!baseline) return ['no committed previous results (bench/baseline.json): nothing to compare'];
  const fell = falls(rows, baseline);
  const compared = rows.filter((r) => typeof r.ratio === 'number'
    && baseline.rows.some((b) => b.workload === r.workload && b.target === r.target)).length;
  const head = `ratios compared with the committed previous results of ${baseline.date} (${compared} rows):`;
  if (fell.length === 0) return [`${head} none fell by more than ${FALL_THRESHOLD * 100} %`];
  return [`${head} ${fell.length} fell by more than ${FALL_THRESHOLD * 100} %`, ...fell.map((f) =>
    `  FELL ${f.workload} / ${f.target}: ${f.previous.toFixed(2)}x -> ${f.now.toFixed(2)}x (${(f.change * 100).toFixed(0)} % worse)`)];
}
