/**
 * How live sync ends (issue 28, items 2 and 5):
 *   - stopping the last live sync of a supabase-js client closes its Realtime socket, so a Node
 *     script ends by itself (realtime-js would otherwise keep the socket ~50 s, twice its heartbeat);
 *   - a wrong apikey and a refused access token end live sync with a typed error (ApiKeyError,
 *     UnauthorizedError) through onError and onState, instead of resubscribing forever.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createClient } from '@supabase/supabase-js';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ApiKeyError, HaexSyncClient, type LiveState, type LiveSync, UnauthorizedError } from '../client/src/index.ts';
import { PROJECT_ROOT } from '../stack/config.ts';
import { eventually } from './support/realtime.ts';
import { forgedTokenFor, newUser, stack } from './support/stack.ts';

describe('stopping live sync', () => {
  it('a Node script ends by itself once its last live sync is stopped (the socket stays while another one runs)', async () => {
    const user = await newUser('live-stop');
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'tests/support/live-stop-script.ts')], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, API_URL: stack.API_URL, CLIENT_KEY: stack.CLIENT_KEY, ACCESS_TOKEN: user.access_token },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let stoppedAt = 0;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
      if (!stoppedAt && stdout.includes('stopped')) stoppedAt = Date.now();
    });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk; });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect({ code, stdout: stdout.trim(), stderr }).toEqual({ code: 0, stdout: 'stopped', stderr: '' });
    // realtime-js' own delay to close an unused socket is 2 heartbeats (50 s); the test's timeout is above it.
    expect(Date.now() - stoppedAt).toBeLessThan(5_000);
  }, 90_000);
});

describe('live sync ends with a typed error when the server refuses the caller', () => {
  const lives: LiveSync[] = [];
  afterEach(async () => { await Promise.all(lives.splice(0).map((live) => live.stop())); });

  /**
   * A device live on a fresh vault, whose supabase-js client sends `apikey()` and `token()` as they
   * are at each request (so a test can make them go bad, as a rotated key or a dead session does).
   */
  async function liveDevice(checkIntervalMs: number) {
    const user = await newUser('live-refused');
    const current = { apikey: stack.CLIENT_KEY, token: user.access_token };
    const supabase = createClient(stack.API_URL, stack.CLIENT_KEY, {
      auth: { persistSession: false, autoRefreshToken: false },
      accessToken: async () => current.token,
      realtime: { transport: WebSocket as never },
      global: {
        fetch: (input, init) => {
          const headers = new Headers(init?.headers);
          headers.set('apikey', current.apikey);
          return fetch(input, { ...init, headers });
        },
      },
    });
    const client = HaexSyncClient.create({ supabase, deviceName: 'refused device' });
    const vault = await client.createVault('refused vault password');
    const reports: Array<{ state: LiveState; error?: Error }> = [];
    const errors: unknown[] = [];
    const live = vault.live({
      cursor: 0, checkIntervalMs, apply: () => {},
      onState: (state, detail) => reports.push({ state, error: detail?.error }),
      onError: (error) => errors.push(error),
    });
    lives.push(live);
    await eventually(() => live.state === 'live', 'the device to be live');
    return { user, current, live, reports, errors };
  }

  it('a wrong apikey: ApiKeyError through onError, then state stopped with it, at the next periodic check', async () => {
    const { current, live, reports, errors } = await liveDevice(200);
    current.apikey = 'sb_publishable_WRONGKEY123';
    await eventually(() => live.state === 'stopped', 'live sync to stop');
    expect(live.error).toBeInstanceOf(ApiKeyError);
    expect(live.error!.message).toMatch(/Unregistered API key/);
    expect(errors).toEqual([live.error]);
    await eventually(() => reports.at(-1)?.state === 'stopped', 'the stopped report');
    expect(reports.at(-1)).toEqual({ state: 'stopped', error: live.error });
    await expect(live.pull()).rejects.toBe(live.error);
  });

  it('a refused access token: UnauthorizedError through onError, then state stopped with it', async () => {
    const { user, current, live, errors } = await liveDevice(0);
    current.token = forgedTokenFor(user);
    const pulled = await live.pull().catch((error: unknown) => error);
    expect(pulled).toBeInstanceOf(UnauthorizedError);
    expect(live.state).toBe('stopped');
    expect(errors).toEqual([pulled]);
  });
});
