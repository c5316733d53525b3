/**
 * The goals of issue 25, one line each with its verdict, judged from one run's rows (bench/run.ts
 * prints this after the full table). A row measured while the machine was loaded (bench/load.ts)
 * keeps its verdict but is marked "not comparable"; a workload that did not run says so.
 *   W2 pull, pages of 1,000:             PostgREST >= 0.6x the floor, function >= 0.5x
 *   W1 push, batches of 100:             PostgREST >= 0.66x, function >= 0.5x
 *   W3 single push p50:                  PostgREST <= 2.5 ms, function <= 4 ms
 *   W4 new device through the client:    >= 50,000 logs/s, decryption included
 *   W9 page at cursor 900,000 of 1M:     within 10 % of a 10k vault's page
 *   W5 and the shared-vault rows:        no fall of more than 10 % against the committed previous results
 */
import type { Baseline } from './compare.ts';
import { GOALS, NO_FALL_MAX } from './goals.ts';
import type { ResultRow } from './stats.ts';

interface GoalLine { goal: string; target: string; figure: string; verdict: string }

const fmt = (row: ResultRow | undefined) => row?.value == null ? '-'
  : row.unit === 'ms' ? `${row.value} ms` : `${Math.round(row.value).toLocaleString('en-US')} ${row.unit}${typeof row.ratio === 'number' && row.unit !== 'ms' ? ` (${row.ratio.toFixed(2)}x)` : ''}`;

const verdictOf = (row: ResultRow | undefined, pass: (row: ResultRow) => boolean) => {
  if (!row || row.value == null) return row ? 'n/a (failed)' : 'not run';
  const verdict = pass(row) ? 'PASS' : 'MISS';
  return row.comparable === false ? `${verdict} (not comparable: loaded machine)` : verdict;
};

export function issue25Goals(rows: ResultRow[], baseline: Baseline | undefined): string {
  const find = (workload: string, target: string) => rows.find((r) => r.workload === workload && r.target === target);
  const lines: GoalLine[] = [];
  for (const [workload, label] of [['W2 pull', 'W2 pull, pages of 1,000'], ['W1 push', 'W1 push, batches of 100']] as const) {
    for (const target of ['postgrest-direct', 'postgrest-gateway', 'edge-sync']) {
      const min = GOALS[workload]![target]!.minRatio!;
      const row = find(workload, target);
      lines.push({ goal: `${label}: >= ${min}x floor`, target, figure: fmt(row), verdict: verdictOf(row, (x) => (x.ratio ?? 0) >= min) });
    }
  }
  for (const target of ['postgrest-direct', 'postgrest-gateway', 'edge-sync']) {
    const max = GOALS['W3 latency']![target]!.maxMs!;
    const row = find('W3 latency', target);
    lines.push({ goal: `W3 single push p50: <= ${max} ms`, target, figure: fmt(row), verdict: verdictOf(row, (x) => x.value! <= max) });
  }
  const w4 = rows.find((r) => r.workload === 'W4 catch-up' && r.goal);
  lines.push({ goal: 'W4 new device, decryption included: >= 50,000 logs/s', target: w4?.target ?? 'client', figure: fmt(w4),
    verdict: verdictOf(w4, (x) => x.value! >= 50_000) });
  const w9 = rows.find((r) => r.workload === 'W9 deep cursor');
  lines.push({ goal: 'page at cursor 900,000 of a 1M vault vs a 10k vault: within 10 %', target: w9?.target ?? 'postgrest-direct',
    figure: w9?.value != null ? `${w9.value} ms vs ${w9.details?.['10k vault page ms']} ms` : '-', verdict: verdictOf(w9, (x) => x.verdict === 'PASS') });
  // W5 and the shared-vault rows: against the committed previous results.
  for (const row of rows.filter((r) => r.workload.startsWith('W5') || r.workload.includes('5 members'))) {
    const before = baseline?.rows.find((b) => b.workload === row.workload && b.target === row.target);
    const higherIsBetter = row.unit !== 'ms' && row.unit !== 'MiB';
    const now = typeof row.ratio === 'number' && typeof before?.ratio === 'number' ? [row.ratio, before.ratio] : [row.value, before?.value];
    const [a, b] = now as [number | null, number | null | undefined];
    const fall = a == null || b == null || b === 0 ? undefined : higherIsBetter ? 1 - a / b : a / b - 1;
    lines.push({ goal: `${row.workload}: falls by at most ${NO_FALL_MAX * 100} %`, target: row.target,
      figure: fall === undefined ? fmt(row) : `${fmt(row)}, ${fall > 0 ? `${(fall * 100).toFixed(0)} % worse` : `${(-fall * 100).toFixed(0)} % better`}`,
      verdict: fall === undefined ? 'n/a (no previous figure)' : verdictOf(row, () => fall <= NO_FALL_MAX) });
  }
  const header = ['issue 25 goal', 'target', 'figure', 'verdict'];
  const cells = lines.map((l) => [l.goal, l.target, l.figure, l.verdict]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const render = (c: string[]) => `| ${c.map((x, i) => x.padEnd(widths[i]!)).join(' | ')} |`;
  return [render(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(render)].join('\n');
}
