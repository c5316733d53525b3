/** CompactionScheduler against a scripted transport: one run at a time, backoff on busy, bounds, stop(). */
import { describe, expect, it } from 'vitest';
import { CompactionScheduler } from '../src/compaction.ts';
import type { CompactResult, CompactStatus, SyncTransport } from '../src/transport/types.ts';

const answer = (status: CompactStatus, removed = 0): CompactResult =>
  ({ status, removed, remaining: 1, complete: status === 'complete' || status === 'nothing_to_do', compactedThrough: 0 });

function scripted(statuses: Array<CompactStatus | Error>) {
  const calls: number[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const transport = {
    name: 'scripted',
    async compact() {
      calls.push(calls.length);
      inFlight++; maxInFlight = Math.max(maxInFlight, inFlight);
      await Promise.resolve();
      inFlight--;
      const next = statuses.shift() ?? 'complete';
      if (next instanceof Error) throw next;
      return answer(next, next === 'more' || next === 'complete' ? 10 : 0);
    },
  } as unknown as SyncTransport;
  return { transport, calls, maxInFlight: () => maxInFlight };
}

describe('CompactionScheduler', () => {
  it('calls again on more, stops on complete, and absorbs schedule() calls during a run into that run', async () => {
    const s = scripted(['more', 'more', 'complete']);
    const waits: number[] = [];
    const scheduler = new CompactionScheduler(s.transport, 'v', { sleep: async (ms) => { waits.push(ms); } });
    const run = scheduler.schedule();
    expect(scheduler.schedule()).toBe(run);
    expect(scheduler.running).toBe(true);
    expect(await run).toBe('complete');
    expect(s.calls).toHaveLength(3);
    expect(s.maxInFlight()).toBe(1);
    expect(waits).toEqual([]);
    expect(scheduler.running).toBe(false);
  });

  it('backs off exponentially on busy, capped, and gives up after maxRetries busy answers in a row', async () => {
    const s = scripted(['busy', 'busy', 'busy', 'busy', 'busy']);
    const waits: number[] = [];
    const scheduler = new CompactionScheduler(s.transport, 'v',
      { backoffMs: 100, maxBackoffMs: 300, maxRetries: 4, sleep: async (ms) => { waits.push(ms); } });
    expect(await scheduler.schedule()).toBe('busy');
    expect(waits).toEqual([100, 200, 300, 300]);
    expect(s.calls).toHaveLength(5);
  });

  it('resets the backoff after progress, and reports a run that keeps failing through onError', async () => {
    const boom = new Error('network');
    const s = scripted(['busy', 'more', 'busy', boom, boom]);
    const waits: number[] = [];
    const errors: unknown[] = [];
    const scheduler = new CompactionScheduler(s.transport, 'v',
      { backoffMs: 10, maxRetries: 2, sleep: async (ms) => { waits.push(ms); }, onError: (e) => errors.push(e) });
    expect(await scheduler.schedule()).toBe('failed');
    expect(waits).toEqual([10, 10, 20]);
    expect(errors).toEqual([boom]);
  });

  it('never exceeds maxSteps calls per run', async () => {
    const s = scripted(Array.from({ length: 50 }, () => 'more' as const));
    const scheduler = new CompactionScheduler(s.transport, 'v', { maxSteps: 7 });
    expect(await scheduler.schedule()).toBe('step_limit');
    expect(s.calls).toHaveLength(7);
  });

  it('stop() ends a run waiting in its backoff at once', async () => {
    const s = scripted(['busy', 'busy', 'busy']);
    const scheduler = new CompactionScheduler(s.transport, 'v', { backoffMs: 3_600_000 });
    const run = scheduler.schedule();
    await new Promise((resolve) => setImmediate(resolve));
    await scheduler.stop();
    expect(await run).toBe('stopped');
    expect(s.calls).toHaveLength(1);
    expect(scheduler.running).toBe(false);
  });
});
