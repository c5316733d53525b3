/**
 * Every device converges after compaction (issue 13), through the client library and the real
 * stack:
 *  - property: random histories (random keys, timestamps that go forward, back and repeat, logs
 *    without a record key), devices that start at random cursors and sync at random moments,
 *    compaction at random moments, and rounds where pushes, compaction and pulls run at once. In
 *    the end every device's last-writer-wins state equals that of an oracle that saw every log.
 *    Seeded (COMPACTION_SEED=<n> replays a run); the seed is printed on failure.
 *  - the gap check: a gap compaction made (at or below compactedThrough) is accepted, a lost log is
 *    a SequenceGapError, on both transports.
 */
import { createClient } from '@supabase/supabase-js';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  edgeFunctionTransport, HaexSyncClient, rpcTransport, SequenceGapError, type DecryptedLog, type SyncTransport, type Vault,
} from '../client/src/index.ts';
import type { StackUser } from '../stack/users.ts';
import { adminSql, newUser, stack } from './support/stack.ts';

/** mulberry32: small, seeded, good enough to pick test cases. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)), chance: (p: number) => next() < p };
}

const transports: Array<[string, (user: StackUser) => SyncTransport]> = [
  ['rpc', (user) => rpcTransport(createClient(stack.API_URL, stack.ANON_KEY, {
    global: { headers: { Authorization: `Bearer ${user.access_token}` } },
    auth: { persistSession: false, autoRefreshToken: false }, realtime: { transport: WebSocket as never },
  }))],
  ['edge function', (user) => edgeFunctionTransport({ url: `${stack.API_URL}/functions/v1/sync`, accessToken: () => user.access_token, apikey: stack.ANON_KEY })],
];

interface Entry { cell: string; value: number; ts: string; sequence: number }
type State = Map<string, { value: number; ts: string; sequence: number }>;

/** Last-writer-wins as the protocol defines it: haexTimestamp bytewise, equal timestamps -> higher sequence. */
const newer = (a: { ts: string; sequence: number }, b: { ts: string; sequence: number }) => {
  const c = Buffer.compare(Buffer.from(a.ts), Buffer.from(b.ts));
  return c > 0 || (c === 0 && a.sequence > b.sequence);
};
function applyLww(state: State, entries: Iterable<Entry>) {
  for (const e of entries) {
    const current = state.get(e.cell);
    if (!current || newer(e, current)) state.set(e.cell, { value: e.value, ts: e.ts, sequence: e.sequence });
  }
}
const fromLog = (log: DecryptedLog): Entry => {
  const data = log.data as { cell: string; value: number };
  return { cell: data.cell, value: data.value, ts: log.haexTimestamp, sequence: log.sequence };
};

class Device {
  state: State = new Map();
  constructor(readonly vault: Vault, public cursor: number) {}
  async sync() {
    const result = await this.vault.sync({ cursor: this.cursor, apply: (logs) => applyLww(this.state, logs.map(fromLog)) });
    this.cursor = result.cursor;
  }
}

describe('every device converges after compaction (property)', () => {
  it('random histories, cursors, compactions and concurrent pushes: every device ends in the oracle\'s LWW state', async () => {
    const seed = Number(process.env.COMPACTION_SEED ?? Math.floor(Math.random() * 2 ** 31));
    const rand = prng(seed);
    const deadline = performance.now() + 4000; // bounded in time: stop adding steps after ~4 s
    const user = await newUser('converge');
    const owner = HaexSyncClient.create({ transport: transports[0]![1](user), autoCompact: false });
    const vault = await owner.createVault('pw');
    const oracle: Entry[] = [];
    let clock = 1000;
    let steps = 0;
    const devices: Device[] = [];
    const counts = { pushes: 0, compactions: 0, syncs: 0, concurrent: 0, removed: 0, freshChecks: 0 };
    try {
      const cells = Array.from({ length: rand.int(2, 12) }, (_, i) => `cell-${i}`);
      const push = async () => {
        const changes = Array.from({ length: rand.int(1, 25) }, () => {
          const cell = cells[rand.int(0, cells.length - 1)]!;
          // Forward mostly; sometimes a late device (older timestamp) or an exact repeat of a timestamp.
          const roll = rand.next();
          const t = roll < 0.55 ? ++clock : roll < 0.85 ? rand.int(0, clock) : clock;
          const value = rand.int(0, 1e9);
          const keyed = !rand.chance(0.1); // some logs opt out (no record key): never compacted
          return { cell, value, ts: String(t).padStart(10, '0'), keyed };
        });
        const result = await vault.push(changes.map((c) => ({
          data: { cell: c.cell, value: c.value }, haexTimestamp: c.ts, ...(c.keyed ? { key: c.cell } : {}),
        })));
        result.logs.forEach((l, i) => oracle.push({ cell: changes[i]!.cell, value: changes[i]!.value, ts: changes[i]!.ts, sequence: l.sequence }));
        counts.pushes++;
      };
      const compact = async () => {
        counts.removed += (await vault.compact()).removed;
        counts.compactions++;
      };
      const join = () => {
        // A device at a random cursor, holding exactly what a device that pulled that far (before any
        // compaction) would hold.
        const last = oracle.reduce((m, e) => Math.max(m, e.sequence), 0);
        const cursor = rand.int(0, last);
        const device = new Device(vault, cursor);
        applyLww(device.state, oracle.filter((e) => e.sequence <= cursor));
        devices.push(device);
      };
      // A brand-new device from 0 right after a compaction, against everything pushed so far.
      const checkFresh = async () => {
        const expected: State = new Map();
        applyLww(expected, oracle);
        const fresh = new Device(vault, 0);
        await fresh.sync();
        expect(fresh.state).toEqual(expected);
        counts.freshChecks++;
      };
      const syncOne = async () => {
        if (devices.length === 0) return;
        await devices[rand.int(0, devices.length - 1)]!.sync();
        counts.syncs++;
      };
      for (let i = 0; i < 3; i++) await push();
      join();
      while (steps < 400 && performance.now() < deadline) {
        steps++;
        const roll = rand.next();
        if (roll < 0.4) await push();
        else if (roll < 0.55) {
          await compact();
          if (rand.chance(0.3)) await checkFresh();
        }
        else if (roll < 0.65) join();
        else if (roll < 0.85) await syncOne();
        else {
          // Concurrent: pushes, a compaction and pulls at the same time.
          counts.concurrent++;
          await Promise.all([push(), push(), compact(), syncOne(), syncOne()]);
        }
      }
      join();
      await compact();
      const expected: State = new Map();
      applyLww(expected, oracle);
      for (const device of devices) {
        await device.sync();
        expect(device.state).toEqual(expected);
      }
      // A brand-new device from 0 after everything, too.
      const fresh = new Device(vault, 0);
      await fresh.sync();
      expect(fresh.state).toEqual(expected);
      // The compaction did remove something, so the property was not tested on an uncompacted log.
      expect(counts.removed).toBeGreaterThan(0);
      console.log(`compaction property: seed ${seed}, ${steps} steps, ${devices.length} devices, ${oracle.length} logs, ${JSON.stringify(counts)}`);
    } catch (error) {
      console.error(`compaction property FAILED with seed ${seed} (replay: COMPACTION_SEED=${seed}) after ${steps} steps`);
      (error as Error).message = `[seed ${seed}] ${(error as Error).message}`;
      throw error;
    }
  }, 60_000);
});

describe('the gap check tells a compacted gap from a lost log', () => {
  it.each(transports)('%s: a gap at or below compactedThrough is compacted (accepted); a missing log above it is a SequenceGapError', async (_, make) => {
    const user = await newUser('gaps');
    const client = HaexSyncClient.create({ transport: make(user), autoCompact: false });
    const vault = await client.createVault('pw');
    await vault.push([
      { data: { cell: 'a', value: 1 }, haexTimestamp: '1', key: 'a' },
      { data: { cell: 'b', value: 1 }, haexTimestamp: '1', key: 'b' },
      { data: { cell: 'a', value: 2 }, haexTimestamp: '2', key: 'a' },
      { data: { cell: 'b', value: 2 }, haexTimestamp: '2', key: 'b' },
    ]);
    expect((await vault.compact()).removed).toBe(2);
    // Compacted: sequences 1 and 2 are gone, compactedThrough = 4; a pull from 0 accepts the gap.
    const pulled: number[] = [];
    for await (const page of vault.pull(0, { pageSize: 1 })) pulled.push(...page.logs.map((l) => l.sequence));
    expect(pulled).toEqual([3, 4]);

    // Lost: logs 5..7 pushed after the compaction; 6 disappears without compaction (above compactedThrough).
    await vault.push([1, 2, 3].map((i) => ({ data: { cell: 'c', value: i }, haexTimestamp: String(10 + i), key: 'c' })));
    await adminSql()`delete from public.sync_logs where vault_id = ${vault.vaultId} and sequence = 6`;
    const error = await (async () => {
      for await (const _page of vault.pull(4)) { /* consume */ }
    })().then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(SequenceGapError);
    expect(error).toMatchObject({ expected: 6, received: 7 });
    // The same pull from before the compacted range still reports the lost log, after accepting 1..2.
    const again = await (async () => {
      for await (const _page of vault.pull(0)) { /* consume */ }
    })().then(() => undefined, (e: unknown) => e);
    expect(again).toBeInstanceOf(SequenceGapError);
  });
});
