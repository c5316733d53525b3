/**
 * push_log_columns (issue 25, item 3): the push with the logs as columns, through the gateway as
 * supabase-js and the Edge Function call it. Its happy path and idempotency, the same answer and rows
 * as push_logs for the same logs, and every refusal (status, SQLSTATE, detail) storing nothing; then
 * push_logs' conversion of JSON objects into those columns (fields of the wrong JSON type, and which
 * of several invalid entries is named).
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { StackUser } from '../stack/users.ts';
import { b64, b64chars, createVault, deviceIdOf, entry, expectError, type PushResult, vaultState } from './support/sql-fixtures.ts';
import { newMember, sharedVault } from './support/sharing-fixtures.ts';
import { adminSql, newUser, rpc } from './support/stack.ts';

let alice: StackUser;
let bob: StackUser;

beforeAll(async () => {
  [alice, bob] = await Promise.all([newUser('alice'), newUser('bob')]);
});

type Entry = ReturnType<typeof entry> & { record_key?: string | null; key_generation?: number | null };
/** The logs as push_log_columns takes them. */
const columns = (logs: Entry[]) => ({
  ids: logs.map((l) => l.id ?? null), encrypted_data: logs.map((l) => l.encrypted_data), nonces: logs.map((l) => l.nonce),
  haex_timestamps: logs.map((l) => l.haex_timestamp),
});
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- an answer or an error body
const push = (vault_id: string, args: Record<string, unknown>, token = alice.access_token) =>
  rpc<PushResult & Record<string, any>>('push_log_columns', { vault_id, ...args }, token);
/** Every column of the stored logs, wire included. */
const stored = (vaultId: string) => adminSql()`select sequence::int, id, author_id, device_id, encrypted_data, nonce, haex_timestamp,
    record_key, key_generation::int, wire::jsonb - 'createdAt' - 'vaultId' as wire
  from public.sync_logs where vault_id = ${vaultId} order by sequence`;

describe('push_log_columns', () => {
  it('numbers new logs 1, 2, 3, ... in array order and stores them as sent (record keys and generations too), device_id being the session\'s device', async () => {
    const { vault_id } = await createVault(alice);
    const logs = [entry(), entry(), entry()];
    const res = await push(vault_id, { ...columns(logs), record_keys: ['k1', null, 'k_3-x'], key_generations: [1, null, 1] });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ last_sequence: 3, results: logs.map((l, i) => ({ id: l.id, sequence: i + 1, duplicate: false })) });
    const device = await deviceIdOf(alice);
    const keys = ['k1', null, 'k_3-x'];
    expect(await stored(vault_id)).toEqual(logs.map((l, i) => ({
      sequence: i + 1, id: l.id, author_id: alice.id, device_id: device, encrypted_data: l.encrypted_data, nonce: l.nonce,
      haex_timestamp: l.haex_timestamp, record_key: keys[i], key_generation: 1,
      wire: { sequence: i + 1, id: l.id, authorId: alice.id, deviceId: device, encryptedData: l.encrypted_data, nonce: l.nonce,
        haexTimestamp: l.haex_timestamp, recordKey: keys[i], keyGeneration: 1 },
    })));
    const { vault } = await vaultState(vault_id);
    expect(vault!.last_sequence).toBe(3);
  });

  it('generates a null id, the same one in the row and in its wire, and keeps the given ones in place', async () => {
    const { vault_id } = await createVault(alice);
    const logs = [entry(), entry(), entry(), entry()];
    const res = await push(vault_id, { ...columns(logs), ids: [null, logs[1]!.id, null, logs[3]!.id] });
    expect(res.status).toBe(200);
    const ids = res.body.results.map((r) => r.id);
    expect(new Set(ids).size).toBe(4);
    expect([ids[1], ids[3]]).toEqual([logs[1]!.id, logs[3]!.id]);
    expect((await stored(vault_id)).map((l) => [l.id, l.wire.id, l.encrypted_data]))
      .toEqual(ids.map((id, i) => [id, id, logs[i]!.encrypted_data]));
  });

  it('is idempotent by id: a retry stores nothing and answers the original sequences; an id repeated in the batch is its first occurrence', async () => {
    const { vault_id } = await createVault(alice);
    const [a, b] = [entry(), entry()];
    expect((await push(vault_id, columns([a, b]))).body.last_sequence).toBe(2);
    const fresh = entry();
    const retry = await push(vault_id, columns([a, fresh, b, { ...fresh, encrypted_data: b64(9) }]));
    expect(retry.body).toEqual({
      last_sequence: 3,
      results: [
        { id: a.id, sequence: 1, duplicate: true }, { id: fresh.id, sequence: 3, duplicate: false },
        { id: b.id, sequence: 2, duplicate: true }, { id: fresh.id, sequence: 3, duplicate: true },
      ],
    });
    const again = await push(vault_id, columns([a, b, fresh]));
    expect(again.body.results.map((r) => [r.sequence, r.duplicate])).toEqual([[1, true], [2, true], [3, true]]);
    const rows = await stored(vault_id);
    expect(rows.map((l) => l.encrypted_data)).toEqual([a.encrypted_data, b.encrypted_data, fresh.encrypted_data]);
    const [vault] = await adminSql()`select last_sequence::int, bytes::int from public.vaults where id = ${vault_id}`;
    expect(vault).toEqual({ last_sequence: 3,
      bytes: rows.reduce((sum, l) => sum + l.encrypted_data.length + l.nonce.length + l.haex_timestamp.length, 0) });
  });

  it('answers and stores exactly what push_logs does for the same logs', async () => {
    const [one, two] = [await createVault(alice), await createVault(alice)];
    const logs: Entry[] = [entry({ record_key: 'k' }), entry(), entry({ key_generation: 1 })];
    const byColumns = await push(one.vault_id, { ...columns(logs), record_keys: ['k', null, null], key_generations: [null, null, 1] });
    const byObjects = await rpc<PushResult>('push_logs', { vault_id: two.vault_id, logs }, alice.access_token);
    expect(byColumns.body).toEqual(byObjects.body);
    expect(await stored(one.vault_id)).toEqual(await stored(two.vault_id));
  });

  it('accepts values exactly at their limits', async () => {
    const { vault_id } = await createVault(alice);
    const res = await push(vault_id, { ...columns([entry({ encrypted_data: b64chars(524288), nonce: 'n'.repeat(64),
      haex_timestamp: 't'.repeat(128) })]), record_keys: ['r'.repeat(64)], key_generations: [1] });
    expect(res.status).toBe(200);
    const many = await push(vault_id, columns(Array.from({ length: 1000 }, () => entry())));
    expect(many.status).toBe(200);
    expect(many.body.last_sequence).toBe(1001);
  });

  const two = () => columns([entry(), entry()]);
  const invalid: [string, () => Record<string, unknown>, number, string, string][] = [
    ['encrypted_data is empty', () => ({ ...columns([]) }), 400, 'PT400', 'encrypted_data'],
    ['encrypted_data is null', () => ({ ...two(), encrypted_data: null }), 400, 'PT400', 'encrypted_data'],
    ['encrypted_data is two-dimensional', () => ({ ...two(), encrypted_data: [['QUJD'], ['QUJD']] }), 400, 'PT400', 'encrypted_data'],
    ['there are 1001 logs', () => columns(Array.from({ length: 1001 }, () => entry())), 413, 'PT413', 'encrypted_data'],
    ['ids has fewer elements', () => ({ ...two(), ids: [randomUUID()] }), 400, 'PT400', 'ids'],
    ['ids is null', () => ({ ...two(), ids: null }), 400, 'PT400', 'ids'],
    ['nonces has more elements', () => ({ ...two(), nonces: ['a', 'b', 'c'] }), 400, 'PT400', 'nonces'],
    ['haex_timestamps is null', () => ({ ...two(), haex_timestamps: null }), 400, 'PT400', 'haex_timestamps'],
    ['record_keys has fewer elements', () => ({ ...two(), record_keys: ['k'] }), 400, 'PT400', 'record_keys'],
    ['key_generations has more elements', () => ({ ...two(), key_generations: [1, 1, 1] }), 400, 'PT400', 'key_generations'],
    ['an encrypted_data is null', () => ({ ...two(), encrypted_data: [b64(9), null] }), 400, 'PT400', 'logs[1].encrypted_data'],
    ['an encrypted_data is not base64', () => ({ ...two(), encrypted_data: [b64(9), 'ab$d'] }), 400, 'PT400', 'logs[1].encrypted_data'],
    ['an encrypted_data lacks padding', () => ({ ...two(), encrypted_data: [b64(9), 'AAAAA'] }), 400, 'PT400', 'logs[1].encrypted_data'],
    ['an encrypted_data is over 512 KiB', () => ({ ...two(), encrypted_data: [b64(9), b64chars(524292)] }), 413, 'PT413', 'logs[1].encrypted_data'],
    ['a nonce is empty', () => ({ ...two(), nonces: ['n', ''] }), 400, 'PT400', 'logs[1].nonce'],
    ['a nonce is null', () => ({ ...two(), nonces: ['n', null] }), 400, 'PT400', 'logs[1].nonce'],
    ['a haex_timestamp is over 128 characters', () => ({ ...two(), haex_timestamps: ['t', 't'.repeat(129)] }), 400, 'PT400', 'logs[1].haex_timestamp'],
    ['a record_key is not base64url', () => ({ ...two(), record_keys: [null, 'a=b'] }), 400, 'PT400', 'logs[1].record_key'],
    ['a record_key is over 64 characters', () => ({ ...two(), record_keys: [null, 'k'.repeat(65)] }), 400, 'PT400', 'logs[1].record_key'],
    ['a key_generation is 0', () => ({ ...two(), key_generations: [1, 0] }), 400, 'PT400', 'logs[1].key_generation'],
    ['the first of several invalid logs is named', () => ({ ...columns([entry(), entry(), entry()]), nonces: ['n', 'n', ''],
      encrypted_data: [b64(9), 'ab$d', b64(9)] }), 400, 'PT400', 'logs[1].encrypted_data'],
    ['encrypted_data totals over 16 MiB', () => columns(Array.from({ length: 33 }, () => entry({ encrypted_data: b64chars(524288) }))),
      413, 'PT413', 'logs'],
  ];
  it.each(invalid)('refuses a push where %s, storing nothing', async (_name, args, status, code, details) => {
    const { vault_id } = await createVault(alice);
    await push(vault_id, columns([entry()]));
    const before = await vaultState(vault_id);
    const res = await push(vault_id, args());
    expectError(res, status, code, details);
    expect(res.body.message.startsWith(`${details} `) || res.body.message.startsWith(`${details}:`)).toBe(true);
    expect(await vaultState(vault_id)).toEqual(before);
  });

  it('says which of a log\'s limits it broke, with a hint, for an encrypted_data over 512 KiB', async () => {
    const { vault_id } = await createVault(alice);
    const res = await push(vault_id, { ...columns([entry()]), encrypted_data: [b64chars(524292)] });
    expectError(res, 413, 'PT413', 'logs[0].encrypted_data');
    expect(res.body.hint).toMatch(/Split big data into several logs/);
  });

  it('refuses a malformed id or generation before it runs (PostgREST cannot bind it: 400), storing nothing', async () => {
    const { vault_id } = await createVault(alice);
    const before = await vaultState(vault_id);
    expect(await push(vault_id, { ...two(), ids: [randomUUID(), 'abc'] })).toMatchObject({ status: 400, body: { code: '22P02' } });
    expect(await push(vault_id, { ...two(), key_generations: [1, 'x'] })).toMatchObject({ status: 400, body: { code: '22P02' } });
    expect(await vaultState(vault_id)).toEqual(before);
  });

  it('refuses logs under another key generation than the vault\'s (409 stale_key_generation, the first such log named)', async () => {
    const { vault_id } = await createVault(alice);
    await adminSql()`update public.vaults set key_generation = 2 where id = ${vault_id}`;
    const stale = await push(vault_id, { ...two(), key_generations: [2, 1] });
    expectError(stale, 409, 'PT409', 'logs[1].key_generation');
    expect(stale.body.hint).toBe('stale_key_generation');
    expectError(await push(vault_id, two()), 409, 'PT409', 'logs[0].key_generation'); // absent: 1
    expectError(await push(vault_id, { ...two(), key_generations: [2, null] }), 409, 'PT409', 'logs[1].key_generation'); // null: 1
    expect((await vaultState(vault_id)).logs).toHaveLength(0);
    expect((await push(vault_id, { ...two(), key_generations: [2, 2] })).status).toBe(200);
  });

  it('answers a null vault_id 400, an unknown vault and another user\'s alike 404, a reader 403, storing nothing', async () => {
    expectError(await push(null as never, two()), 400, 'PT400', 'vault_id');
    const { vault_id } = await createVault(alice);
    const before = await vaultState(vault_id);
    const foreign = await push(vault_id, two(), bob.access_token);
    expectError(foreign, 404, 'PT404', 'vault_id');
    expect(foreign.body).toEqual((await push(randomUUID(), two(), bob.access_token)).body);
    const [owner, reader] = await Promise.all([newMember('owner'), newMember('reader')]);
    const shared = await sharedVault(owner, [[reader, 'reader']]);
    expectError(await push(shared, two(), reader.access_token), 403, 'PT403', 'vault_id');
    expect((await vaultState(shared)).logs).toHaveLength(0);
    expect(await vaultState(vault_id)).toEqual(before);
  });

  it('is not callable without a user: anon and no token are refused', async () => {
    const { vault_id } = await createVault(alice);
    expect((await push(vault_id, two(), '')).status).toBe(401);
    expect((await vaultState(vault_id)).logs).toHaveLength(0);
  });
});

describe('push_logs, turning JSON objects into push_log_columns\' columns', () => {
  const invalid: [string, () => unknown[], string][] = [
    ['a record_key is a number', () => [entry(), entry({ record_key: 5 })], 'logs[1].record_key'],
    ['a record_key is an empty string', () => [entry(), entry({ record_key: '' })], 'logs[1].record_key'],
    ['a key_generation is a string', () => [entry(), entry({ key_generation: '1' })], 'logs[1].key_generation'],
    ['a key_generation is a fraction', () => [entry(), entry({ key_generation: 1.5 })], 'logs[1].key_generation'],
    ['a key_generation is 0', () => [entry(), entry({ key_generation: 0 })], 'logs[1].key_generation'],
    ['a nonce is a number', () => [entry(), entry({ nonce: 12 })], 'logs[1].nonce'],
    ['an entry is an array', () => [entry(), [entry()]], 'logs[1]'],
    ['an invalid field comes before a non-object entry', () => [entry({ nonce: '' }), 'x'], 'logs[0].nonce'],
    ['a non-object entry comes before an invalid field', () => ['x', entry({ nonce: '' })], 'logs[0]'],
    ['within an entry, encrypted_data comes before a bad device_id', () => [entry({ encrypted_data: 'ab$d', device_id: 3 })],
      'logs[0].encrypted_data'],
    ['within an entry, a bad device_id comes before a bad record_key', () => [entry({ device_id: 3, record_key: 'a=b' })],
      'logs[0].device_id'],
  ];
  it.each(invalid)('refuses a push where %s (400 PT400 naming it), storing nothing', async (_name, logs, details) => {
    const { vault_id } = await createVault(alice);
    const res = await rpc('push_logs', { vault_id, logs: logs() }, alice.access_token);
    expectError(res, 400, 'PT400', details);
    expect((await vaultState(vault_id)).logs).toHaveLength(0);
  });

  it('refuses the caller before the logs: a bad push without a user is 401, with a null vault_id 400 vault_id', async () => {
    expectError(await rpc('push_logs', { vault_id: null, logs: ['x'] }, alice.access_token), 400, 'PT400', 'vault_id');
    expectError(await rpc('push_logs', { vault_id: null, logs: [] }, alice.access_token), 400, 'PT400', 'vault_id');
    expect((await rpc('push_logs', { vault_id: randomUUID(), logs: ['x'] }, '')).status).toBe(401);
  });
});
