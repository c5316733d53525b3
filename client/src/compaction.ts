/**
 * Background compaction: what a device does when a push's answer says `compactionDue`.
 *
 * Contract with the server (supabase/migrations/20261202100200, 20261202100100):
 * - compact_logs is one resumable step of at most ~2 s; its answer's `status` says what to do next:
 *   `more` -> call again (it continues where it stopped), `complete` / `nothing_to_do` -> done,
 *   `busy` -> another compaction of the vault runs right now (another device, a pg_cron job).
 * - push_logs tells one pusher at a time that compaction is due (a 2-minute server lease), so the
 *   devices of a vault do not all start at once.
 *
 * Invariants of this scheduler:
 * - Never in a push's path: Vault.push returns once its logs are stored; `schedule()` only starts a
 *   run in the background and returns at once.
 * - One run per scheduler (per Vault object) at a time; a `schedule()` during a run is absorbed.
 * - Bounded: at most `maxSteps` compact_logs calls per run; `busy` and failed calls back off
 *   exponentially (`backoffMs` doubling to `maxBackoffMs`) and end the run after `maxRetries`
 *   in a row: the other compactor or the next due push finishes the job.
 * - Stoppable: `stop()` ends a run at its next step (an in-flight call completes on the server) and
 *   cancels any backoff wait.
 */
import type { CompactResult, SyncTransport } from './transport/types.ts';

export interface CompactionOptions {
  /** First wait after a `busy` answer or a failed call (default 1,000 ms), doubling per repeat. */
  backoffMs?: number;
  /** Longest wait (default 30,000 ms). */
  maxBackoffMs?: number;
  /** `busy` answers or failures in a row before a run gives up (default 5). */
  maxRetries?: number;
  /** compact_logs calls per run at most (default 1,000: ~30 min of server work). */
  maxSteps?: number;
  /** Called after every step. */
  onStep?: (result: CompactResult) => void;
  /** Called with the error of a run that gave up on failures. */
  onError?: (error: unknown) => void;
  /** For tests: how to wait (default setTimeout, abortable). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export type CompactionRunEnd = 'complete' | 'busy' | 'failed' | 'stopped' | 'step_limit';

const sleepAbortable = (ms: number, signal: AbortSignal) => new Promise<void>((resolve) => {
  if (signal.aborted) return resolve();
  const timer = setTimeout(() => { signal.removeEventListener('abort', done); resolve(); }, ms);
  const done = () => { clearTimeout(timer); resolve(); };
  signal.addEventListener('abort', done, { once: true });
});

export class CompactionScheduler {
  readonly #transport: SyncTransport;
  readonly #vaultId: string;
  readonly #o: Required<Omit<CompactionOptions, 'onStep' | 'onError'>> & Pick<CompactionOptions, 'onStep' | 'onError'>;
  #run: Promise<CompactionRunEnd> | undefined;
  #abort: AbortController | undefined;

  constructor(transport: SyncTransport, vaultId: string, options: CompactionOptions = {}) {
    this.#transport = transport;
    this.#vaultId = vaultId;
    this.#o = {
      backoffMs: options.backoffMs ?? 1_000, maxBackoffMs: options.maxBackoffMs ?? 30_000, maxRetries: options.maxRetries ?? 5,
      maxSteps: options.maxSteps ?? 1_000, sleep: options.sleep ?? sleepAbortable, onStep: options.onStep, onError: options.onError,
    };
  }

  /** Whether a run is going on. */
  get running(): boolean { return this.#run !== undefined; }

  /**
   * Starts a background run unless one is going on; returns at once. The promise it returns (the
   * current run's end) never rejects and need not be awaited.
   */
  schedule(): Promise<CompactionRunEnd> {
    if (this.#run) return this.#run;
    const abort = new AbortController();
    this.#abort = abort;
    const run = this.#loop(abort.signal).finally(() => {
      if (this.#run === run) { this.#run = undefined; this.#abort = undefined; }
    });
    this.#run = run;
    return run;
  }

  /** The current run's end (or undefined when idle). */
  idle(): Promise<CompactionRunEnd> | undefined { return this.#run; }

  /** Stops the current run (at its next step; a backoff wait ends at once). Resolves when it has ended. */
  async stop(): Promise<void> {
    this.#abort?.abort();
    await this.#run;
  }

  async #loop(signal: AbortSignal): Promise<CompactionRunEnd> {
    let retries = 0;
    let delay = this.#o.backoffMs;
    for (let steps = 0; steps < this.#o.maxSteps; steps++) {
      if (signal.aborted) return 'stopped';
      let result: CompactResult;
      try {
        result = await this.#transport.compact(this.#vaultId);
      } catch (error) {
        if (++retries > this.#o.maxRetries) { this.#o.onError?.(error); return 'failed'; }
        await this.#o.sleep(delay, signal);
        delay = Math.min(delay * 2, this.#o.maxBackoffMs);
        continue;
      }
      this.#o.onStep?.(result);
      if (result.complete) return 'complete';
      if (result.status === 'busy') {
        if (++retries > this.#o.maxRetries) return 'busy';
        await this.#o.sleep(delay, signal);
        delay = Math.min(delay * 2, this.#o.maxBackoffMs);
        continue;
      }
      retries = 0;
      delay = this.#o.backoffMs;
    }
    return signal.aborted ? 'stopped' : 'step_limit';
  }
}
