/** Unit tests of the client library without a server (issue 28): unknown options refused, 401 answers mapped to typed errors, live sync on refused tokens. */
import { describe, expect, it } from 'vitest';
import { TransportError, UsageError, type SyncTransport } from '../src/index.ts';
import { ApiKeyError, apiKeyCode, errorFromStatus, SessionRevokedError, UnauthorizedError } from '../src/errors.ts';
import { startLive } from '../src/live.ts';
import { HaexSyncClient } from '../src/sync.ts';

const VAULT = '0b7f4c1e-5a57-4d1c-9c59-3a0f0e6f2a10';

describe('options (issue 28)', () => {
  const transport = { name: 'none' } as unknown as SyncTransport;

  it('HaexSyncClient.create refuses an unknown option with a UsageError naming it', () => {
    expect(() => HaexSyncClient.create({ transport, deviceNmae: 'laptop' } as never))
      .toThrow(new UsageError('HaexSyncClient.create: unknown option "deviceNmae" (known: supabase, transport, deviceName, deviceId, retry, push, '
        + 'pageSize, decryptWorker, autoCompact, compaction, files)'));
    expect(() => HaexSyncClient.create({ transport, device: 'x', name: 'y' } as never)).toThrow(/unknown options "device", "name"/);
    expect(() => HaexSyncClient.create({ transport, deviceName: 'laptop', deviceId: 'custom', pageSize: 10 })).not.toThrow();
  });

  it('vault.live refuses an unknown option with a UsageError naming it', () => {
    expect(() => startLive({ vaultId: VAULT, sync: async () => ({ cursor: 0 }) }, {} as never,
      { cursor: 0, apply: () => {}, onStat: () => {} } as never)).toThrow(/^live: unknown option "onStat"/);
  });
});

describe('401 answers (issue 28)', () => {
  it('maps the gateway\'s refused apikey to ApiKeyError, session_revoked to SessionRevokedError, any other 401 to UnauthorizedError', () => {
    expect(errorFromStatus(401, apiKeyCode(401, 'Unregistered API key')!, 'x')).toBeInstanceOf(ApiKeyError);
    expect(errorFromStatus(401, apiKeyCode(401, 'Invalid API key')!, 'x')).toBeInstanceOf(ApiKeyError);
    expect(apiKeyCode(403, 'Invalid API key')).toBeUndefined();
    expect(errorFromStatus(401, 'session_revoked', 'x')).toBeInstanceOf(SessionRevokedError);
    const other = errorFromStatus(401, 'PGRST301', 'x');
    expect(other).toBeInstanceOf(UnauthorizedError);
    expect({ retryable: other instanceof TransportError && other.retryable }).toEqual({ retryable: false });
  });
});

describe('live sync and refused tokens (issue 28)', () => {
  /** Just enough of supabase-js for live(): channels that subscribe at once, a socket to release. */
  function fakeSupabase() {
    const channels: object[] = [];
    const channel = () => {
      const c = { on: () => c, subscribe: (cb: (status: string) => void) => { setTimeout(() => cb('SUBSCRIBED'), 0); return c; } };
      channels.push(c);
      return c;
    };
    return {
      channel, removeChannel: async (c: object) => { channels.splice(channels.indexOf(c), 1); return 'ok'; },
      realtime: { setAuth: async () => {}, getChannels: () => channels, disconnect: async () => 'ok' },
    };
  }

  /** A live sync whose every pull fails with `failure`; resolves once it has reported one error. */
  async function liveFailingWith(failure: Error) {
    const errors: unknown[] = [];
    const live = startLive({ vaultId: VAULT, sync: async () => { throw failure; } }, fakeSupabase() as never,
      { cursor: 0, apply: () => {}, checkIntervalMs: 0, onError: (error) => errors.push(error) });
    await live.pull().catch(() => {});
    return { live, errors };
  }

  it('an expired token is reported as UnauthorizedError and retried at the next occasion; live sync goes on', async () => {
    for (const [code, message] of [['token_expired', 'pull: token expired'], ['PGRST303', 'pull_logs: JWT expired']] as const) {
      const { live, errors } = await liveFailingWith(errorFromStatus(401, code, message));
      expect(errors[0]).toBeInstanceOf(UnauthorizedError);
      expect(live.state).not.toBe('stopped');
      await live.stop();
    }
  });

  it('any other refused token ends live sync with the UnauthorizedError', async () => {
    const { live, errors } = await liveFailingWith(errorFromStatus(401, 'PGRST301', 'pull_logs: JWSError JWSInvalidSignature'));
    expect(live.state).toBe('stopped');
    expect(live.error).toBe(errors[0]);
    expect(live.error).toBeInstanceOf(UnauthorizedError);
  });
});
