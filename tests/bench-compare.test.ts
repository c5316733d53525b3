/** bench/compare.ts: which ratios count as fallen against the committed previous results. */
import { describe, expect, it } from 'vitest';
import { type Baseline, falls, reportFalls } from '../bench/compare.ts';
import type { ResultRow } from '../bench/stats.ts';

const row = (workload: string, target: string, unit: string, ratio: number | null): ResultRow =>
  ({ workload, target, metric: unit === 'ms' ? 'p50 ms' : 'logs/s', unit, value: 1, ratio });
const baseline: Baseline = {
  date: '2026-12-02T19:00:00.000Z', note: 'test',
  rows: [
    { workload: 'W2 pull', target: 'edge-sync', unit: 'logs/s', value: 1, ratio: 0.5 },
    { workload: 'W1 push', target: 'edge-sync', unit: 'logs/s', value: 1, ratio: 0.5 },
    { workload: 'W3 latency', target: 'edge-sync', unit: 'ms', value: 1, ratio: 4 },
  ],
};

describe('bench ratios against the previous results', () => {
  it('a throughput ratio that dropped > 15 % and a latency ratio that rose > 15 % fell; smaller changes and new rows did not', () => {
    const rows = [
      row('W2 pull', 'edge-sync', 'logs/s', 0.42), // -16 %
      row('W1 push', 'edge-sync', 'logs/s', 0.43), // -14 %
      row('W3 latency', 'edge-sync', 'ms', 4.7), // +17.5 % (worse)
      row('W3 latency', 'postgrest-direct', 'ms', 9), // not in the baseline
    ];
    expect(falls(rows, baseline).map((f) => `${f.workload}/${f.target}`)).toEqual(['W2 pull/edge-sync', 'W3 latency/edge-sync']);
    expect(falls([row('W3 latency', 'edge-sync', 'ms', 2)], baseline)).toEqual([]); // faster is not a fall
  });

  it('prints each fall, or that none fell, or that there is nothing to compare', () => {
    expect(reportFalls([row('W2 pull', 'edge-sync', 'logs/s', 0.3)], baseline).join('\n')).toMatch(/FELL W2 pull \/ edge-sync: 0\.50x -> 0\.30x \(40 % worse\)/);
    expect(reportFalls([row('W2 pull', 'edge-sync', 'logs/s', 0.6)], baseline)[0]).toMatch(/none fell by more than 15 %/);
    expect(reportFalls([], undefined)[0]).toMatch(/nothing to compare/);
  });
});
