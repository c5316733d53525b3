/**
 * W5 live sync (issue 12), through the gateway and the embedded Realtime server, with the client
 * library as an app uses it:
 *   latency  device A pushes one change; device B (vault.live, rpc transport) has it decrypted and
 *            applied: time from the start of A's push to B's apply, sequentially, `pushes` times.
 *   fan-out  one pusher, `fanout` live devices on one vault (each its own supabase-js client and
 *            socket; one unlocked Vault shared, so PBKDF2 runs once): time to each device's apply.
 *   idle     `idle` subscribed devices (realtime-js clients, 10 per vault) held for `idleSeconds`:
 *            the stack process's RSS (which hosts the gateway and the Realtime server) and CPU.
 * Goals on this machine: p50 <= 25 ms, p99 <= 100 ms, fan-out p99 <= 250 ms.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createClient, RealtimeClient, type SupabaseClient } from '@supabase/supabase-js';
import type postgres from 'postgres';
import WebSocket from 'ws';
import { HaexSyncClient, rpcTransport, type LiveSync, type Vault } from '../client/src/index.ts';
import { ensureUser } from '../stack/users.ts';
import { percentile } from './stats.ts';
import { newSession, type UserFactory } from './workloads.ts';

export interface W5Options {
  sql: postgres.Sql;
  users: UserFactory;
  apiUrl: string;
  anonKey: string;
  stackPid: number;
  pushes: number;
  fanout: number;
  fanoutPushes: number;
  idle: number;
  idleSeconds: number;
  progress: (line: string) => void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const client = (apiUrl: string, anonKey: string, token: string): SupabaseClient => createClient(apiUrl, anonKey, {
  auth: { persistSession: false, autoRefreshToken: false }, accessToken: async () => token,
  realtime: { transport: WebSocket as never },
});

/** utime + stime in seconds and RSS in MiB of a process, from /proc. */
function processUsage(pid: number) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / 100; // clock ticks (USER_HZ = 100)
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  return { cpuSeconds, rssMiB: rss };
}

async function liveDevices(opts: W5Options, token: string, vault: Vault, count: number, onApply: (device: number, data: any) => void) {
  const lives: LiveSync[] = [];
  const clients: SupabaseClient[] = [];
  for (let i = 0; i < count; i++) {
    const supabase = client(opts.apiUrl, opts.anonKey, token);
    clients.push(supabase);
    lives.push(vault.live({
      cursor: 0, supabase, checkIntervalMs: 0,
      apply: (logs) => { for (const log of logs) onApply(i, log.data); },
    }));
  }
  const deadline = Date.now() + 60_000;
  while (lives.some((l) => l.state !== 'live')) {
    if (Date.now() > deadline) throw new Error('live devices did not subscribe within 60 s');
    await sleep(20);
  }
  return { lives, stop: async () => { await Promise.all(lives.map((l) => l.stop())); await Promise.all(clients.map((c) => c.removeAllChannels())); } };
}

export async function runLiveSync(opts: W5Options) {
  const user = await ensureUser(opts.users.dbUrl, `bench-w5-${randomUUID().slice(0, 8)}@bench.local`,
    { jwtSecret: opts.users.jwtSecret, apiUrl: opts.users.apiUrl, expiresInSeconds: 7200 });
  const make = () => HaexSyncClient.create({ transport: rpcTransport(client(opts.apiUrl, opts.anonKey, user.access_token)) });
  const pusher = await make().createVault('w5 password');
  const reader = await make().unlockVault(pusher.vaultId, 'w5 password');

  // latency: one live device
  opts.progress(`W5 latency: ${opts.pushes} sequential pushes of 1 change, A push -> B applied`);
  let waiting: { n: number; resolve: () => void } | undefined;
  const single = await liveDevices(opts, user.access_token, reader, 1, (_d, data) => {
    if (waiting && data.n === waiting.n) waiting.resolve();
  });
  const latencies: number[] = [];
  const warmup = 20;
  for (let n = 0; n < opts.pushes + warmup; n++) {
    const applied = new Promise<void>((resolve) => { waiting = { n, resolve }; });
    const start = performance.now();
    await pusher.push([{ data: { n }, haexTimestamp: `${Date.now()}-${n}` }]);
    await Promise.race([applied, sleep(5000).then(() => { throw new Error(`push ${n} not applied within 5 s`); })]);
    if (n >= warmup) latencies.push(performance.now() - start);
  }
  await single.stop();


  // fan-out: one pusher, many live devices
  opts.progress(`W5 fan-out: ${opts.fanout} live devices, ${opts.fanoutPushes} pushes`);
  const fanStart = new Map<number, number>();
  const fanLatencies: number[] = [];
  let fanSeen = new Map<number, number>();
  const base = opts.pushes + warmup;
  const fan = await liveDevices(opts, user.access_token, reader, opts.fanout, (_d, data) => {
    const started = fanStart.get(data.n);
    if (started === undefined) return;
    fanLatencies.push(performance.now() - started);
    fanSeen.set(data.n, (fanSeen.get(data.n) ?? 0) + 1);
  });
  for (let k = 0; k < opts.fanoutPushes + 3; k++) {
    const n = base + k;
    fanSeen = k < 3 ? new Map() : fanSeen;
    if (k >= 3) fanStart.set(n, performance.now());
    await pusher.push([{ data: { n }, haexTimestamp: `${Date.now()}-${n}` }]);
    const deadline = Date.now() + 10_000;
    while (k >= 3 && (fanSeen.get(n) ?? 0) < opts.fanout) {
      if (Date.now() > deadline) throw new Error(`fan-out push ${n} reached ${fanSeen.get(n) ?? 0}/${opts.fanout} devices`);
      await sleep(2);
    }
    if (k < 3) await sleep(300);
  }
  await fan.stop();


  // idle: many subscribed devices
  opts.progress(`W5 idle: ${opts.idle} subscribed devices for ${opts.idleSeconds} s`);
  const before = processUsage(opts.stackPid);
  const sockets: RealtimeClient[] = [];
  const perVault = 10;
  let joined = 0;
  for (let v = 0; v < Math.ceil(opts.idle / perVault); v++) {
    const session = await newSession(opts.sql, opts.users, `w5-idle-${v}`);
    for (let d = 0; d < perVault && sockets.length < opts.idle; d++) {
      const rt = new RealtimeClient(`${opts.apiUrl.replace(/^http/, 'ws')}/realtime/v1`, {
        params: { apikey: opts.anonKey }, transport: WebSocket as never, accessToken: async () => session.token,
      });
      sockets.push(rt);
      await rt.setAuth();
      rt.channel(`vault:${session.vaultId}`, { config: { private: true } }).subscribe((status) => { if (status === 'SUBSCRIBED') joined++; });
    }
  }
  const deadline = Date.now() + 120_000;
  while (joined < opts.idle) {
    if (Date.now() > deadline) throw new Error(`only ${joined}/${opts.idle} idle devices subscribed`);
    await sleep(50);
  }
  const subscribed = processUsage(opts.stackPid);
  const t = performance.now();
  await sleep(opts.idleSeconds * 1000);
  const after = processUsage(opts.stackPid);
  const idleCpu = (after.cpuSeconds - subscribed.cpuSeconds) / ((performance.now() - t) / 1000);
  for (const rt of sockets) { rt.removeAllChannels().catch(() => {}); rt.disconnect(); }

  return {
    latency: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), count: latencies.length },
    fanout: { devices: opts.fanout, p50: percentile(fanLatencies, 50), p99: percentile(fanLatencies, 99), samples: fanLatencies.length },
    idle: {
      devices: opts.idle, rssBeforeMiB: before.rssMiB, rssMiB: after.rssMiB, rssPerDeviceKiB: ((subscribed.rssMiB - before.rssMiB) * 1024) / opts.idle,
      cpuPercent: idleCpu * 100,
    },
  };
}
