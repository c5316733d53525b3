/**
 * Statistics and reporting for `npm run bench`: percentiles, medians, the result rows (each figure
 * with its ratio to the SQL floor and a PASS/MISS against its target), the printed table and the
 * JSON written to bench/results/latest.json.
 */

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export const median = (values: number[]) => percentile(values, 50);

/** One line of the result table. `value` is the headline figure; `floor` the same figure on the SQL floor. */
export interface ResultRow {
  workload: string;
  target: string;
  metric: string;
  value: number | null;
  unit: string;
  /** value / floor for throughputs; floor / value would hide latency ratios, so latencies report value / floor too. */
  ratio?: number | null;
  /** e.g. ">= 0.75x floor" or "<= 1 ms". */
  goal?: string;
  verdict?: 'PASS' | 'MISS' | 'n/a';
  /** Extra figures (p50/p99 per request, generator CPU, memory...). */
  details?: Record<string, number | string | null>;
  note?: string;
  /** false when the workload started above the load limit (bench/load.ts): the figure is not comparable. */
  comparable?: boolean;
}

export function throughputRow(workload: string, target: string, value: number | null, floor: number | null,
  minRatio: number | undefined, details?: ResultRow['details'], note?: string): ResultRow {
  const ratio = value !== null && floor ? value / floor : null;
  return {
    workload, target, metric: 'logs/s', value, unit: 'logs/s', ratio,
    goal: minRatio === undefined ? undefined : `>= ${minRatio}x floor`,
    verdict: minRatio === undefined ? undefined : ratio === null ? 'n/a' : ratio >= minRatio ? 'PASS' : 'MISS',
    details, note,
  };
}

export function latencyRow(workload: string, target: string, p50: number | null, floorP50: number | null,
  maxMs: number | undefined, details?: ResultRow['details'], note?: string): ResultRow {
  return {
    workload, target, metric: 'p50 ms', value: p50, unit: 'ms',
    ratio: p50 !== null && floorP50 ? p50 / floorP50 : null,
    goal: maxMs === undefined ? undefined : `<= ${maxMs} ms`,
    verdict: maxMs === undefined ? undefined : p50 === null ? 'n/a' : p50 <= maxMs ? 'PASS' : 'MISS',
    details, note,
  };
}

function fmt(value: number | null | undefined | string, digits = 0): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'string') return value;
  if (!Number.isFinite(value)) return '-';
  return value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function fmtDetails(details: ResultRow['details']): string {
  if (!details) return '';
  return Object.entries(details)
    .map(([key, value]) => `${key}=${typeof value === 'number' ? fmt(value, Math.abs(value) < 100 ? 2 : 0) : value ?? '-'}`)
    .join(' ');
}

/** The table as Markdown (prints well in a terminal and pastes into docs/performance.md). */
export function formatTable(rows: ResultRow[]): string {
  const header = ['workload', 'target', 'figure', 'x floor', 'goal', 'verdict', 'details'];
  const lines = rows.map((row) => [
    row.workload,
    row.target,
    `${fmt(row.value, row.unit === 'ms' ? 2 : 0)} ${row.unit}`,
    row.ratio === null || row.ratio === undefined ? '-' : `${row.ratio.toFixed(2)}x`,
    row.goal ?? '',
    row.comparable === false && row.verdict ? `${row.verdict} (not comparable)` : row.verdict ?? '',
    [fmtDetails(row.details), row.note ? `(${row.note})` : ''].filter(Boolean).join(' '),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const render = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [render(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...lines.map(render)].join('\n');
}

/** CPU time of this process (user + system) as a fraction of one core over a wall-clock window. */
export function cpuMeter() {
  const startCpu = process.cpuUsage();
  const startWall = performance.now();
  return () => {
    const used = process.cpuUsage(startCpu);
    const wallMs = performance.now() - startWall;
    return (used.user + used.system) / 1000 / wallMs;
  };
}
