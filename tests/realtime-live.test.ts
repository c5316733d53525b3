/**
 * vault.live() against the embedded stack: many pushers and live devices (both transports) converge
 * with no lost or repeated log through forced disconnects; pulls never overlap; a device whose
 * Realtime channel is refused still converges through its periodic checks.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, sleep } from './support/realtime.ts';
import { goLive, openDevice, type Device } from './support/live-devices.ts';
import { newUser, sessionIdOf, stack, signToken } from './support/stack.ts';

const devices: Device[] = [];
afterEach(async () => {
  await Promise.all(devices.splice(0).map(async (d) => { await d.live?.stop(); await d.supabase.removeAllChannels(); }));
});

async function setup(liveTransports: Array<'rpc' | 'edge'>, pushers: number) {
  const user = await newUser('live');
  const vaultId = randomUUID();
  const base = { token: user.access_token, vaultId, password: 'live password', apiUrl: stack.API_URL, anonKey: stack.CLIENT_KEY };
  const creator = await openDevice({ ...base, transport: 'rpc', create: true });
  devices.push(creator);
  const open = (transport: 'rpc' | 'edge', extra = {}) => openDevice({ ...base, transport, ...extra }).then((d) => { devices.push(d); return d; });
  const live = await Promise.all(liveTransports.map((t) => open(t)));
  const pushing = [creator, ...await Promise.all(Array.from({ length: pushers - 1 }, (_, i) => open(i % 2 ? 'edge' : 'rpc')))];
  return { user, vaultId, base, live, pushing, open };
}

const sequencesOf = (d: Device) => d.applied.map((a) => a.sequence);
const upTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe('vault.live()', () => {
  it('8 pushers and 4 live devices (rpc and edge-function) converge with no lost or repeated log through forced disconnects', async () => {
    const { live, pushing } = await setup(['rpc', 'rpc', 'edge', 'edge'], 8);
    for (const d of live) goLive(d, 0); // no periodic check: only pokes and catch-up may deliver
    await eventually(() => live.every((d) => d.live!.state === 'live'), 'every device live');

    const sent = new Set<string>();
    let pushing_ = true;
    // Round robin, so that every device loses its socket while pushes go on, however fast they are.
    let drops = 0;
    const chaos = (async () => {
      while (pushing_) {
        await sleep(150);
        live[drops++ % live.length]!.dropSocket();
      }
    })();
    await Promise.all(pushing.map(async (p, pi) => {
      // At least 15 rounds each, and on until every device has been dropped twice.
      for (let i = 0; i < 15 || drops < 2 * live.length; i++) {
        const changes = [0, 1].map((k) => ({ data: { pusher: pi, i, k, tag: randomUUID() }, haexTimestamp: `${Date.now()}-${pi}-${i}-${k}` }));
        for (const c of changes) sent.add(c.data.tag);
        await p.vault.push(changes);
        await sleep(Math.random() * 30);
      }
    }));
    pushing_ = false;
    await chaos;
    const total = sent.size;
    expect(total).toBeGreaterThanOrEqual(8 * 15 * 2);
    expect(drops).toBeGreaterThanOrEqual(2 * live.length);
    await eventually(() => live.every((d) => d.live!.cursor === total), 'every device at the last sequence', 30_000);
    for (const d of live) {
      expect(sequencesOf(d)).toEqual(upTo(total));
      expect(new Set(d.applied.map((a) => (a.data as { tag: string }).tag))).toEqual(sent);
      expect(d.maxPullsInFlight).toBe(1);
      expect(d.states).toContain('reconnecting'); // the disconnects did happen
    }
  }, 90_000);

  it('a poke missed while disconnected is caught up by the pull on resubscription (no periodic check)', async () => {
    const { live, pushing } = await setup(['rpc'], 1);
    const [device] = live;
    goLive(device!, 0);
    await eventually(() => device!.live!.state === 'live', 'live');
    device!.dropSocket(); // supabase-js reconnects after >= 1 s
    await eventually(() => device!.states.at(-1) === 'reconnecting', 'the disconnect to be noticed');
    // live.ts pulls once on a channel error (a refused join may mean the vault is gone): join that
    // pull, so that none is in flight when the push commits and any later pull is counted.
    await device!.live!.pull();
    const pullsBefore = device!.pulls;
    await pushing[0]!.vault.push([{ data: { n: 1 }, haexTimestamp: '1' }]);
    // The push (and its poke) is committed while the device has no channel: the poke is missed.
    expect(device!.states.at(-1)).toBe('reconnecting');
    expect(device!.pulls).toBe(pullsBefore);
    const statesAtPush = device!.states.length;
    await eventually(() => device!.live!.cursor === 1, 'the catch-up pull', 15_000);
    expect(sequencesOf(device!)).toEqual([1]);
    // It came with the resubscription (live again), not from a poke of a channel that never went down.
    await eventually(() => device!.states.slice(statesAtPush).includes('live'), 'live again');
    expect(device!.pulls).toBe(pullsBefore + 1);
  }, 30_000);

  it('pokes coalesce: 40 pokes during one pull cost exactly one more pull, one at a time', async () => {
    const { live, pushing } = await setup(['rpc'], 1);
    const [device] = live;
    goLive(device!);
    await eventually(() => device!.live!.state === 'live', 'live');
    // Count the pokes the device's channel receives, next to live.ts' own handler.
    const [channel] = device!.supabase.getChannels();
    let pokes = 0;
    channel!.on('broadcast', { event: 'logs' }, () => { pokes++; });
    const before = device!.pulls;
    let release!: () => void;
    device!.pullGate = new Promise<void>((resolve) => { release = resolve; });
    for (let i = 0; i < 40; i++) await pushing[0]!.vault.push([{ data: { i }, haexTimestamp: `${Date.now()}-${i}` }]);
    await eventually(() => pokes === 40, 'all 40 pokes at the device');
    // The first poke started a pull, held at the gate; the other 39 arrived while it was in flight.
    expect(device!.pulls - before).toBe(1);
    release();
    await eventually(() => device!.live!.cursor === 40, 'the last sequence');
    await eventually(() => device!.pulls - before === 2, 'the one coalesced pull');
    expect(sequencesOf(device!)).toEqual(upTo(40));
    expect(device!.maxPullsInFlight).toBe(1);
    // A poke at or below the cursor pulls nothing more: one more push costs one more pull.
    await pushing[0]!.vault.push([{ data: { i: 40 }, haexTimestamp: `${Date.now()}-40` }]);
    await eventually(() => device!.live!.cursor === 41, 'sequence 41');
    await eventually(() => pokes === 41, 'the 41st poke');
    expect(device!.pulls - before).toBe(3);
  }, 60_000);

  it('a channel closed at token expiry is resubscribed with a fresh token; pokes flow again without a periodic check', async () => {
    const user = await newUser('expiry');
    const vaultId = randomUUID();
    const base = { vaultId, password: 'pw', apiUrl: stack.API_URL, anonKey: stack.CLIENT_KEY };
    const pusher = await openDevice({ ...base, token: user.access_token, transport: 'rpc', create: true });
    devices.push(pusher);
    // Realtime gets a token valid for 2 s, fresh at every subscription (as a session refresh would give).
    const shortLived = () => {
      const now = Math.floor(Date.now() / 1000);
      return signToken({ sub: user.id, role: 'authenticated', aud: 'authenticated', session_id: sessionIdOf(user), iat: now, exp: now + 2 });
    };
    const device = await openDevice({ ...base, token: user.access_token, transport: 'edge', realtimeToken: null });
    devices.push(device);
    (device.supabase.realtime as unknown as { accessToken: () => Promise<string> }).accessToken = async () => shortLived();
    goLive(device, 0);
    await eventually(() => device.live!.state === 'live', 'live');
    await eventually(() => device.states.includes('reconnecting'), 'the close at expiry', 5000);
    await eventually(() => device.live!.state === 'live', 'live again', 5000);
    await pusher.vault.push([{ data: { n: 1 }, haexTimestamp: '1' }]);
    await eventually(() => device.live!.cursor === 1, 'the poke after resubscribing', 3000);
  }, 30_000);

  it('a refused join is retried with growing backoff while periodic checks keep the device current', async () => {
    const { pushing, open, user } = await setup([], 1);
    const stranger = await newUser('stranger');
    void user;
    const deaf = await open('edge', { realtimeToken: stranger.access_token });
    const refusals: string[] = [];
    deaf.live = deaf.vault.live({
      cursor: 0, checkIntervalMs: 300, apply: (logs) => { for (const l of logs) deaf.applied.push({ sequence: l.sequence, data: l.data }); },
      onState: (state, detail) => { if (state === 'reconnecting' && detail?.error) refusals.push(detail.error.message); },
    });
    await pushing[0]!.vault.push([{ data: { n: 1 }, haexTimestamp: `${Date.now()}-1` }]);
    await eventually(() => deaf.live!.cursor === 1, 'the check to pull', 5000);
    await eventually(() => refusals.length >= 3, 'three refused joins', 5000);
    expect(refusals[0]).toMatch(/^Unauthorized: You do not have permissions to read from this Channel topic: vault:/);
    expect(deaf.live!.state).toBe('reconnecting');
    expect(sequencesOf(deaf)).toEqual([1]);
  }, 60_000);

  it('with its channel refused (no Realtime token), a device still converges through the periodic check', async () => {
    const { pushing, open } = await setup([], 1);
    const deaf = await open('edge', { realtimeToken: null });
    goLive(deaf, 300);
    await pushing[0]!.vault.push([{ data: { n: 1 }, haexTimestamp: `${Date.now()}-1` }]);
    await eventually(() => deaf.live!.cursor === 1, 'the check to pull', 5000);
    expect(deaf.live!.state).toBe('reconnecting');
    expect(sequencesOf(deaf)).toEqual([1]);
  }, 60_000);
});
