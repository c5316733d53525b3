/**
 * Live sync: keep a vault's device up to date within milliseconds of a push by any other device.
 *
 *   const live = vault.live({ cursor, apply, onCursor, onState, signal });
 *   ...; live.stop();   // or abort `signal`
 *
 * Wire contract (docs/realtime.md): every push that stores logs broadcasts, from the database, event
 * `logs` with payload `{ vaultId, lastSequence }` (plus Realtime's message `id`) on the PRIVATE
 * Supabase Realtime channel `vault:<vaultId>`, which only the vault's members may join (RLS on
 * realtime.messages). No client can send on it.
 *
 * Invariants:
 * - A poke is a hint, the cursor is the truth: the device pulls after its cursor (vault.sync without
 *   pending changes), so a lost, late, duplicated or reordered poke never loses or repeats a log; a
 *   poke at or below the cursor is ignored.
 * - One pull in flight at most and one pending: pokes during a pull coalesce into one more pull.
 * - Pulls once on every (re)subscription (catch-up), and every `checkIntervalMs` (default 30 s), so a
 *   lost poke or a silent disconnect delays a log only until the next poke or check.
 * - On a channel error, close (token expiry, revoked access) or timeout, the channel is removed and
 *   subscribed again after a backoff (250 ms doubling to 10 s, with jitter); Realtime's token comes
 *   from the supabase-js client (its session or `accessToken` option) at each subscription.
 * - A failed pull is reported (onError) and retried at the next poke, check or resubscription;
 *   pulled pages already applied stay applied.
 * - A failure no repeat can mend ends live sync: when a pull answers NotFoundError (deleted, or this
 *   user lost access), VaultDeletedError, SessionRevokedError (this device revoked), ApiKeyError (the
 *   apikey is none of the project's) or UnauthorizedError (the access token is refused; an expired one
 *   only is retried, see isExpiredToken), live sync
 *   stops by itself: onError gets the error, then state "stopped" with it in onState's detail and in
 *   `live.error`; `live.pull()` rejects with it. A refused channel join (as for a vault that is gone,
 *   a wrong apikey, a refused token) triggers a pull at once, so the cause is named then rather than
 *   at the next periodic check.
 * - stop() (or the abort signal) removes the channel, and with the client's last channel the
 *   Realtime socket too, so nothing keeps a Node process alive after it.
 * Works with either transport: pulls go through the vault's transport, only the subscription needs
 * a supabase-js client (HaexSyncClient.create({ supabase }) or `supabase` here). On Node 20 that
 * client needs `realtime: { transport: WebSocket }` from `ws`.
 */
import type { RealtimeChannel, SupabaseClient } from '@supabase/supabase-js';
import { ApiKeyError, NotFoundError, refuseUnknownOptions, SessionRevokedError, UnauthorizedError, UsageError, VaultDeletedError } from './errors.ts';
import type { DecryptedLog } from './log-crypto.ts';
import type { PullPage } from './pull.ts';

export type LiveState = 'connecting' | 'live' | 'reconnecting' | 'stopped';

export interface LiveOptions {
  /** Last sequence this device applied. */
  cursor: number;
  /** Applies one page of remote changes; awaited before the next page. */
  apply: (logs: DecryptedLog[], page: PullPage) => void | Promise<void>;
  /** Called with the new cursor after each applied page (persist it here). */
  onCursor?: (cursor: number) => void | Promise<void>;
  /**
   * Called on every state change ("live" = subscribed and caught up once). "stopped" with
   * `detail.error` means live sync ended by itself: the vault is gone (NotFoundError,
   * VaultDeletedError), the session ended (SessionRevokedError), the apikey is wrong (ApiKeyError) or
   * the access token is refused (UnauthorizedError).
   */
  onState?: (state: LiveState, detail?: { error?: Error }) => void;
  /** Called when a pull fails (it is retried at the next poke, check or resubscription). */
  onError?: (error: unknown) => void;
  /** Stops live sync when aborted. */
  signal?: AbortSignal;
  /** Periodic pull, whatever the pokes say (ms, default 30,000; 0 disables). */
  checkIntervalMs?: number;
  pageSize?: number;
  /** The supabase-js client to subscribe with, if not the one the HaexSyncClient was created with. */
  supabase?: SupabaseClient<any, any, any>;
}

export interface LiveSync {
  readonly state: LiveState;
  /** The last sequence applied. */
  readonly cursor: number;
  /** Why live sync stopped by itself (see onState); undefined while it runs or after stop(). */
  readonly error: Error | undefined;
  /** Pulls now (joined to a pull in flight); resolves with the cursor after it, rejects once the vault is gone. */
  pull(): Promise<number>;
  /** Unsubscribes (closing the Realtime socket if no other channel uses it) and waits for a pull in flight. */
  stop(): Promise<void>;
}

/** What live sync needs of a Vault. */
export interface LiveVault {
  readonly vaultId: string;
  sync(options: { cursor: number; apply: LiveOptions['apply']; onCursor?: LiveOptions['onCursor']; pageSize?: number; signal?: AbortSignal }):
    Promise<{ cursor: number }>;
}

/**
 * The server's own "no such vault" (SQL PT404 through rpc, `not_found` through the Edge Function).
 * Other 404s are not about the vault and pass: a gateway that is starting answers
 * `function_not_found` until the function is up, PostgREST `PGRST202` for an rpc it does not know yet.
 */
const VAULT_NOT_FOUND_CODES = new Set(['PT404', 'not_found']);
/**
 * Failures no repeat can mend, which end live sync: the vault is gone, this session ended (issue 19),
 * the apikey is none of the project's, or the access token is refused (issue 28: these looped on
 * resubscriptions before, reported only as "transport failure").
 */
const isFinal = (error: unknown): error is Error => error instanceof VaultDeletedError
  || (error instanceof NotFoundError && VAULT_NOT_FOUND_CODES.has(error.code))
  || error instanceof SessionRevokedError || error instanceof ApiKeyError
  || (error instanceof UnauthorizedError && !isExpiredToken(error));

/**
 * An access token past its `exp` (the sync function's `token_expired`, PostgREST's "JWT expired") is
 * reported but not final: the next pull asks for the token again, and an `accessToken()` callback or
 * a session being refreshed may give a fresh one by then. supabase-js refreshes its session before a
 * request; when that fails it sends no user token, which is final (`PT401`, not authenticated).
 */
const isExpiredToken = (error: UnauthorizedError) => error.code === 'token_expired' || error.code === 'PGRST303'
  || /\bJWT expired\b/i.test(error.message);

type Realtime = SupabaseClient<any, any, any>['realtime'];

/**
 * Closes the Realtime socket when no channel uses it any more. realtime-js closes such a socket only
 * after two heartbeats (50 s), and its disconnect() leaves a 10 s timer behind (socketAdapter.ts,
 * 2.109 to 2.119 at least): either keeps a Node process alive after the app is done. So, where these
 * internals exist, cancel the delayed close and close the Phoenix socket directly; elsewhere (other
 * versions, a Web Worker heartbeat) use the public disconnect().
 */
async function releaseSocket(realtime: Realtime): Promise<void> {
  if (realtime.getChannels().length > 0) return;
  const internals = realtime as unknown as {
    worker?: boolean; _cancelPendingDisconnect?: () => void;
    socketAdapter?: { socket?: { disconnect?: (done: () => void) => void } };
  };
  const phoenix = internals.socketAdapter?.socket;
  if (internals.worker || typeof internals._cancelPendingDisconnect !== 'function' || typeof phoenix?.disconnect !== 'function') {
    await realtime.disconnect();
    return;
  }
  internals._cancelPendingDisconnect();
  await new Promise<void>((resolve) => phoenix.disconnect!(resolve));
  internals._cancelPendingDisconnect();
}

const MIN_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 10_000;

const LIVE_OPTIONS: Record<keyof LiveOptions, true> = {
  cursor: true, apply: true, onCursor: true, onState: true, onError: true, signal: true, checkIntervalMs: true, pageSize: true, supabase: true,
};

export function startLive(vault: LiveVault, supabase: SupabaseClient<any, any, any> | undefined, options: LiveOptions): LiveSync {
  refuseUnknownOptions('live', options, LIVE_OPTIONS);
  if (!supabase) throw new UsageError('live() needs a supabase-js client: HaexSyncClient.create({ supabase }) or live({ supabase })');
  if (!Number.isSafeInteger(options.cursor) || options.cursor < 0) throw new UsageError('cursor must be an integer >= 0');
  const stopper = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stopper.signal]) : stopper.signal;
  let cursor = options.cursor;
  let state: LiveState = 'connecting';
  let channel: RealtimeChannel | undefined;
  let attempt = 0;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let inFlight: Promise<void> | undefined;
  let pending = false;
  let gone: Error | undefined;

  const setState = (next: LiveState, error?: Error) => {
    if (state === 'stopped' || (state === next && !error)) return;
    state = next;
    options.onState?.(next, error ? { error } : undefined);
  };

  const pullLoop = async () => {
    do {
      pending = false;
      try {
        const result = await vault.sync({
          cursor, pageSize: options.pageSize, signal,
          apply: options.apply,
          onCursor: async (c) => { cursor = c; await options.onCursor?.(c); },
        });
        cursor = result.cursor;
      } catch (error) {
        if (signal.aborted) return;
        options.onError?.(error);
        if (isFinal(error)) {
          gone = error;
          void stop(error);
          return;
        }
        return; // the next poke, check or resubscription retries
      }
    } while (pending && !signal.aborted);
  };

  const requestPull = (): Promise<void> => {
    if (signal.aborted) return Promise.resolve();
    if (inFlight) {
      pending = true;
      return inFlight;
    }
    inFlight = pullLoop().finally(() => { inFlight = undefined; });
    return inFlight;
  };

  const subscribe = async () => {
    if (signal.aborted) return;
    // Realtime authorizes the join with the user's token: make sure the socket has the current one.
    await supabase.realtime.setAuth().catch(() => {});
    if (signal.aborted) return;
    const current = supabase.channel(`vault:${vault.vaultId}`, { config: { private: true } });
    channel = current;
    current.on('broadcast', { event: 'logs' }, (message) => {
      const last = (message.payload as { lastSequence?: unknown } | undefined)?.lastSequence;
      if (typeof last === 'number' && last <= cursor) return;
      void requestPull();
    });
    current.subscribe((status, error) => {
      if (channel !== current || signal.aborted) return;
      if (status === 'SUBSCRIBED') {
        attempt = 0;
        void requestPull().then(() => { if (channel === current) setState('live'); });
        return;
      }
      // CHANNEL_ERROR (refused join, socket lost), TIMED_OUT, CLOSED (token expired, access revoked)
      setState('reconnecting', error);
      resubscribeLater();
      // A refused join may mean the vault is gone: a pull tells (and stops live sync if so).
      if (status === 'CHANNEL_ERROR') void requestPull();
    });
  };

  let removal: Promise<unknown> = Promise.resolve();
  const resubscribeLater = () => {
    const old = channel;
    channel = undefined;
    // supabase-js hands out the existing channel of a topic until it is removed: wait for that.
    if (old) removal = supabase.removeChannel(old).catch(() => {});
    if (retryTimer || signal.aborted) return;
    const delay = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** attempt++);
    retryTimer = setTimeout(() => {
      void removal.then(() => {
        retryTimer = undefined;
        return subscribe();
      });
    }, delay / 2 + Math.random() * delay / 2);
  };

  const interval = options.checkIntervalMs ?? 30_000;
  const checkTimer = interval > 0 ? setInterval(() => { void requestPull(); }, interval) : undefined;

  const stop = async (error?: Error) => {
    if (state === 'stopped') return;
    state = 'stopped';
    stopper.abort();
    if (checkTimer) clearInterval(checkTimer);
    if (retryTimer) clearTimeout(retryTimer);
    const old = channel;
    channel = undefined;
    if (old) await supabase.removeChannel(old).catch(() => {});
    await inFlight;
    options.onState?.('stopped', error ? { error } : undefined);
    await releaseSocket(supabase.realtime).catch(() => {});
  };
  options.signal?.addEventListener('abort', () => { void stop(); }, { once: true });

  options.onState?.('connecting');
  void subscribe();

  return {
    get state() { return state; },
    get cursor() { return cursor; },
    get error() { return gone; },
    pull: async () => {
      await requestPull();
      if (gone) throw gone;
      return cursor;
    },
    stop: () => stop(),
  };
}
