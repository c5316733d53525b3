/**
 * The client library against the real stack (Postgres + PostgREST + the sync Edge Function):
 * end-to-end encrypted sync between devices, over both transports.
 */
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  ConflictError, CursorAheadError, edgeFunctionTransport, HaexSyncClient, LogDecryptionError, NotFoundError, rpcTransport,
  TransportError, ValidationError, VaultDeletedError, WrongPasswordError, type DecryptedLog, type SyncTransport, type Vault,
} from '../src/index.ts';
import { adminSql, newUser, stack } from '../../tests/support/stack.ts';

type User = Awaited<ReturnType<typeof newUser>>;

function supabaseFor(user: User): SupabaseClient {
  return createClient(stack.API_URL, stack.CLIENT_KEY, {
    global: { headers: { Authorization: `Bearer ${user.access_token}` } },
    auth: { persistSession: false, autoRefreshToken: false },
    realtime: { transport: WebSocket as never },
  });
}

const transports: Array<[string, (user: User) => SyncTransport]> = [
  ['rpc', (user) => rpcTransport(supabaseFor(user))],
  ['edge function (supabase.functions)', (user) => edgeFunctionTransport(supabaseFor(user))],
  ['edge function (url + token)', (user) => edgeFunctionTransport({
    url: `${stack.API_URL}/functions/v1/sync`, accessToken: () => user.access_token, apikey: stack.CLIENT_KEY,
  })],
];

/** Every plaintext marker written by this file, for the final scan of the database. */
const markers: string[] = [];
const marker = (label: string) => {
  const m = `MARKER-${label}-${crypto.randomUUID()}`;
  markers.push(m);
  return m;
};

/** A device's local state: a last-writer-wins map by HLC timestamp, as a CRDT app would keep. */
class Device {
  state = new Map<string, { value: string; hlc: string }>();
  cursor = 0;
  pending: Array<{ data: unknown; haexTimestamp: string }> = [];
  private counter = 0;
  constructor(readonly name: string, readonly vault: Vault) {}
  hlc() { return `${Date.now().toString().padStart(15, '0')}-${String(++this.counter).padStart(6, '0')}-${this.name}`; }
  write(key: string, value: string) {
    const hlc = this.hlc();
    this.applyOne(key, value, hlc);
    this.pending.push({ data: { key, value }, haexTimestamp: hlc });
  }
  applyOne(key: string, value: string, hlc: string) {
    const current = this.state.get(key);
    if (!current || current.hlc < hlc) this.state.set(key, { value, hlc });
  }
  apply = (logs: DecryptedLog[]) => {
    for (const log of logs) {
      const { key, value } = log.data as { key: string; value: string };
      this.applyOne(key, value, log.haexTimestamp);
    }
  };
  async sync() {
    const result = await this.vault.sync({ cursor: this.cursor, pending: this.pending, apply: this.apply });
    this.pending = [];
    this.cursor = result.cursor;
    return result;
  }
  snapshot() { return Object.fromEntries([...this.state].sort(([a], [b]) => a.localeCompare(b))); }
}

describe.each(transports)('two devices, one user, transport: %s', (_name, makeTransport) => {
  it('sync both ways; a third device with only the password catches up to the identical state', async () => {
    const user = await newUser('client');
    const password = `pw-${crypto.randomUUID()}`;
    const clientA = HaexSyncClient.create({ transport: makeTransport(user), deviceId: 'device-a', pageSize: 7 });
    const a = new Device('a', await clientA.createVault(password));
    const b = new Device('b', await HaexSyncClient.create({ transport: makeTransport(user), deviceId: 'device-b' })
      .unlockVault(a.vault.vaultId, password));

    for (let i = 0; i < 20; i++) a.write(`note-${i}`, marker(`a${i}`));
    const first = await a.sync();
    expect(first.pushed?.logs).toHaveLength(20);
    expect(first.applied).toBe(0); // its own logs are skipped
    expect(a.cursor).toBe(20);

    await b.sync();
    expect(b.cursor).toBe(20);
    expect(b.snapshot()).toEqual(a.snapshot());

    for (let i = 15; i < 30; i++) b.write(`note-${i}`, marker(`b${i}`)); // overwrites 15..19
    a.write('note-0', marker('a-again'));
    await b.sync();
    await a.sync(); // pushes its pending change, then pulls b's
    await b.sync(); // pulls a's last change
    expect(a.cursor).toBe(36);
    expect(b.cursor).toBe(36);
    expect(a.snapshot()).toEqual(b.snapshot());
    expect(Object.keys(a.snapshot())).toHaveLength(30);

    const c = new Device('c', await HaexSyncClient.create({ transport: makeTransport(user) }).unlockVault(a.vault.vaultId, password));
    await c.sync();
    expect(c.cursor).toBe(36);
    expect(c.snapshot()).toEqual(a.snapshot());

    const listed = await clientA.listVaults();
    expect(listed).toEqual([expect.objectContaining({ vaultId: a.vault.vaultId, lastSequence: 36, logCount: 36 })]);
  });

  it('maps server errors to typed errors', async () => {
    const user = await newUser('client-errors');
    const transport = makeTransport(user);
    const client = HaexSyncClient.create({ transport, retry: { maxAttempts: 1 } });
    await expect(client.unlockVault(crypto.randomUUID(), 'pw')).rejects.toBeInstanceOf(NotFoundError);
    const vault = await client.createVault('pw');
    await expect(transport.createVault(vault.vaultId, vault.keyRecord)).rejects.toBeInstanceOf(ConflictError);
    const tooLong = { id: crypto.randomUUID(), encryptedData: 'AAAA', nonce: 'x'.repeat(65), haexTimestamp: 't' };
    const error = await transport.push(vault.vaultId, [tooLong]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).field).toMatch(/^logs\[0\]\.nonce$/);
    const stale = await transport.updateVaultKey(vault.vaultId, vault.keyRecord, '2000-01-01T00:00:00Z').catch((e: unknown) => e);
    expect(stale).toBeInstanceOf(ConflictError);
    await client.deleteVault(vault.vaultId);
    await expect(transport.getVaultKey(vault.vaultId)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('a deleted user\'s still-valid token: createVault fails at once with a non-retryable 401, no retries', async () => {
    const user = await newUser('client-deleted');
    await adminSql()`delete from auth.users where id = ${user.id}`;
    const retries: number[] = [];
    const client = HaexSyncClient.create({ transport: makeTransport(user),
      retry: { sleep: async () => {}, onRetry: ({ attempt }) => retries.push(attempt) } });
    const error = await client.createVault('pw').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect({ status: (error as TransportError).status, retryable: (error as TransportError).retryable, retries })
      .toEqual({ status: 401, retryable: false, retries: [] });
  });

  it('a deleted vault id -> VaultDeletedError on create, NotFoundError on pull; a cursor ahead -> CursorAheadError', async () => {
    const user = await newUser('client-409');
    const transport = makeTransport(user);
    const client = HaexSyncClient.create({ transport, retry: { maxAttempts: 1 } });
    const vault = await client.createVault('pw');
    await vault.push([{ data: 1, haexTimestamp: 't1' }, { data: 2, haexTimestamp: 't2' }]);
    const ahead = await (async () => { for await (const _ of vault.pull(3)) { /* */ } })().catch((e: unknown) => e);
    expect(ahead).toBeInstanceOf(CursorAheadError);
    expect(ahead).toMatchObject({ status: 409, code: 'cursor_ahead' });
    const pages = [];
    for await (const page of vault.pull(0, { pageSize: 1 })) pages.push([page.nextSequence, page.hasMore, page.lastSequence]);
    expect(pages).toEqual([[1, true, 2], [2, false, 2]]);

    await client.deleteVault(vault.vaultId);
    const again = await client.createVault('pw', { vaultId: vault.vaultId }).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(VaultDeletedError);
    expect(again).toMatchObject({ status: 409, code: 'vault_deleted' });
    const gone = await (async () => { for await (const _ of vault.pull(2)) { /* */ } })().catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(NotFoundError);
  });
});

describe('security properties (rpc transport, superuser tampering)', () => {
  it('wrong password -> WrongPasswordError; password change with a stale version -> ConflictError', async () => {
    const user = await newUser('client-pw');
    const deviceA = HaexSyncClient.create({ supabase: supabaseFor(user) });
    const deviceB = HaexSyncClient.create({ supabase: supabaseFor(user) });
    const vault = await deviceA.createVault('old password');
    const error = await deviceB.unlockVault(vault.vaultId, 'not the password').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WrongPasswordError);
    const onB = await deviceB.unlockVault(vault.vaultId, 'old password');
    await onB.push([{ data: { x: 1 }, haexTimestamp: 't1' }]);

    await vault.changePassword('old password', 'new password');
    await expect(deviceB.unlockVault(vault.vaultId, 'old password')).rejects.toBeInstanceOf(WrongPasswordError);
    const reopened = await deviceB.unlockVault(vault.vaultId, 'new password');
    const pages = [];
    for await (const page of reopened.pull(0)) pages.push(...page.logs);
    expect(pages.map((l) => l.data)).toEqual([{ x: 1 }]); // the vault key is unchanged
    // B still holds the record from before A's change: its change must not silently win.
    await expect(onB.changePassword('old password', 'other')).rejects.toBeInstanceOf(ConflictError);
    await expect(vault.changePassword('wrong', 'x')).rejects.toBeInstanceOf(WrongPasswordError);
  });

  it('a tampered ciphertext -> LogDecryptionError naming the log; a log replayed into another vault too', async () => {
    const user = await newUser('client-tamper');
    const client = HaexSyncClient.create({ supabase: supabaseFor(user) });
    const vault1 = await client.createVault('pw');
    const vault2 = await client.createVault('pw');
    const pushed = await vault1.push([1, 2, 3].map((i) => ({ data: marker(`t${i}`), haexTimestamp: `t${i}` })));
    await vault2.push([{ data: marker('v2'), haexTimestamp: 't' }]);
    const sql = adminSql();
    const victim = pushed.logs[1]!;
    // Flip one bit of the ciphertext, keeping it valid base64.
    const [row] = await sql`select encrypted_data from public.sync_logs where vault_id = ${vault1.vaultId} and id = ${victim.id}`;
    const bytes = Buffer.from(row!.encrypted_data as string, 'base64');
    bytes[3]! ^= 0x10;
    await sql`update public.sync_logs set encrypted_data = ${bytes.toString('base64')} where vault_id = ${vault1.vaultId} and id = ${victim.id}`;

    const applied: number[] = [];
    const error = await (async () => {
      for await (const page of vault1.pull(0, { pageSize: 1 })) applied.push(page.nextSequence);
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LogDecryptionError);
    expect((error as LogDecryptionError).logId).toBe(victim.id);
    expect((error as LogDecryptionError).sequence).toBe(2);
    expect(applied).toEqual([1]); // the cursor never passes the bad log

    // Replay vault1's first log (untouched, valid) into vault2 as its next sequence.
    const original = pushed.logs[0]!;
    await sql.begin(async (tx) => {
      await tx`insert into public.sync_logs (vault_id, sequence, id, author_id, device_id, encrypted_data, nonce, haex_timestamp)
               select ${vault2.vaultId}, 2, id, author_id, device_id, encrypted_data, nonce, haex_timestamp
               from public.sync_logs where vault_id = ${vault1.vaultId} and id = ${original.id}`;
      await tx`update public.vaults set last_sequence = 2 where id = ${vault2.vaultId}`;
    });
    const replay = await (async () => { for await (const _ of vault2.pull(1)) { /* */ } })().catch((e: unknown) => e);
    expect(replay).toBeInstanceOf(LogDecryptionError);
    expect((replay as LogDecryptionError).logId).toBe(original.id);
    expect((replay as LogDecryptionError).vaultId).toBe(vault2.vaultId);
  });

  it('a push retried after a lost response stores each log once', async () => {
    const user = await newUser('client-retry');
    const inner = rpcTransport(supabaseFor(user));
    let lost = 0;
    const flaky: SyncTransport = {
      ...inner,
      async push(vaultId, logs) {
        const answer = await inner.push(vaultId, logs); // the server stores the batch ...
        if (lost++ < 2) throw new TransportError('socket hang up (simulated)', 0, 'network', true); // ... the answer is lost
        return answer;
      },
    };
    const retries: number[] = [];
    const client = HaexSyncClient.create({ transport: flaky, retry: { baseDelayMs: 10, onRetry: (r) => retries.push(r.attempt) } });
    const vault = await client.createVault('pw');
    const result = await vault.push(Array.from({ length: 50 }, (_, i) => ({ data: marker(`r${i}`), haexTimestamp: `t${i}` })));
    expect(retries).toEqual([1, 2]);
    expect(result.lastSequence).toBe(50);
    expect(result.logs.every((l) => l.duplicate)).toBe(true); // the successful attempt found every id stored
    const [stored] = await adminSql()`select count(*)::int as count from public.sync_logs where vault_id = ${vault.vaultId}`;
    expect(stored!.count).toBe(50);
    const seen = [];
    for await (const page of vault.pull(0)) seen.push(...page.logs.map((l) => l.sequence));
    expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });
});

afterAll(async () => {
  // Runs after every test above: no plaintext marker may be anywhere in the database.
  expect(markers.length).toBeGreaterThan(100);
  const sql = adminSql();
  const columns = await sql<Array<{ schema: string; table: string; column: string; type: string }>>`
    select n.nspname as schema, c.relname as table, a.attname as column, t.typname as type
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
    join pg_type t on t.oid = a.atttypid
    where c.relkind in ('r', 'p', 'm')
      and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_toast%'
      and t.typname in ('text', 'varchar', 'bpchar', 'name', 'json', 'jsonb', 'bytea', '_text', '_varchar')
      -- sync_logs.wire (issue 25) is the JSON of the row's other columns, kept equal to them by a trigger
      -- (tests/pull-contract.test.ts): scanning it again would double the slowest scan and find nothing new.
      and not (n.nspname = 'public' and c.relname = 'sync_logs' and a.attname = 'wire')`;
  expect(columns.some((c) => c.schema === 'public' && c.table === 'sync_logs' && c.column === 'encrypted_data')).toBe(true);
  expect(columns.some((c) => c.schema === 'auth')).toBe(true);
  // Padded standard base64: such values are also searched after decoding, so that plaintext stored
  // as base64 (instead of ciphertext) is found too. encode(..., 'escape') keeps printable ASCII as is.
  const BASE64 = '^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$';
  const scan = async (pattern: string) => {
    const hits: string[] = [];
    for (const c of columns) {
      const col = sql(c.column);
      const table = sql(`${c.schema}.${c.table}`);
      const rows = c.type === 'bytea'
        ? await sql`select count(*)::int as n from ${table} where convert_from(${col}, 'SQL_ASCII') ~ ${pattern}`
        : ['text', 'varchar', 'bpchar'].includes(c.type)
          ? await sql`select count(*)::int as n from ${table} where ${col}::text ~ ${pattern}
              or case when ${col} ~ ${BASE64} then encode(decode(${col}, 'base64'), 'escape') ~ ${pattern} else false end`
          : await sql`select count(*)::int as n from ${table} where ${col}::text ~ ${pattern}`;
      if (rows[0]!.n > 0) hits.push(`${c.schema}.${c.table}.${c.column}`);
    }
    return hits;
  };
  // Positive controls: the scan finds clear text the server legitimately holds (users' e-mails), and
  // plaintext stored as base64 where ciphertext belongs (a log pushed around the client library).
  expect(await scan('client-tamper-[0-9a-f-]+@test[.]haex[.]local')).toContain('auth.users.email');
  const controlUser = await newUser('scan-control');
  const control = `CONTROL-${crypto.randomUUID()}`;
  const controlVault = crypto.randomUUID();
  await rpcTransport(supabaseFor(controlUser)).createVault(controlVault, { encryptedVaultKey: 'a2V5', salt: 'c2FsdA==', nonce: 'bm9uY2U=' });
  await rpcTransport(supabaseFor(controlUser)).push(controlVault, [{ id: crypto.randomUUID(),
    encryptedData: Buffer.from(`{"note":"${control}"}`).toString('base64'), nonce: 'bm9uY2U=', haexTimestamp: 't' }]);
  expect(await scan(control)).toContain('public.sync_logs.encrypted_data');
  const hits = await scan(markers.join('|'));
  expect(hits).toEqual([]);
  console.log(`plaintext scan: ${markers.length} markers, ${columns.length} text/json/bytea columns, no hit`);
}, 120_000);
